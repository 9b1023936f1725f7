from connectors.cli import main

main()
