"""Packages of the wheel; everything else is in pyproject.toml.

The migration scripts live in ``alembic/`` (where Alembic's tooling expects them in a
checkout) and ship inside the wheel as ``connectors/migrations``, so an installed
package migrates with no file from the source tree (``connectors db upgrade``,
``python -m connectors.migrate upgrade head``).
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["models*", "repositories*", "integrations*", "connectors*"]),
        "connectors.migrations",
        "connectors.migrations.versions",
    ],
    package_dir={"connectors.migrations": "alembic"},
)
