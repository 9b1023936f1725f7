// The interpreter page: records the microphone with MediaRecorder, streams it over the
// WebSocket /ws/realtime-interpreter (protocol: the README) and shows what comes back.
// Plain browser JavaScript, no build step. Opened as ?from=en-US&to=de-DE&autostart=1 it
// starts at once (kiosks, tests). Finals are [data-kind="final"], their translations
// [data-kind="translation"].
"use strict";

const LANGUAGES = [
  ["de-DE", "Deutsch"], ["de-CH", "Deutsch (Schweiz)"], ["en-US", "English (US)"],
  ["en-GB", "English (UK)"], ["fr-FR", "Français"], ["it-IT", "Italiano"],
  ["es-ES", "Español"], ["pt-BR", "Português (Brasil)"], ["nl-NL", "Nederlands"],
  ["pl-PL", "Polski"], ["tr-TR", "Türkçe"], ["uk-UA", "Українська"], ["ru-RU", "Русский"],
  ["ar-SA", "العربية"], ["zh-CN", "中文（简体）"], ["ja-JP", "日本語"],
];
// Chrome, Firefox and Edge record WebM/Opus; Safari only MP4.
const MIME_TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"];
const TIMESLICE_MS = 250;
const CLOSE_MESSAGES = {
  1006: "The connection to the interpreter was lost.",
  1009: "The audio came in too large pieces for the server.",
  1011: "The interpreter failed.",
  1013: "The interpreter is busy. Please try again in a moment.",
  4400: "The interpreter did not understand the request.",
  4401: "Please sign in to use the interpreter.",
  4403: "This page may not use the interpreter.",
  4404: "The interpreter is not available at this address.",
  4408: "The session reached its time limit.",
};

const $ = (id) => document.getElementById(id);

function fillLanguages(select, wanted) {
  const codes = LANGUAGES.map(([code]) => code);
  const entries = codes.includes(wanted) || !wanted ? LANGUAGES : [[wanted, wanted], ...LANGUAGES];
  for (const [code, name] of entries) {
    select.add(new Option(`${name} (${code})`, code, false, code === wanted));
  }
}

class Page {
  constructor() {
    this.status = $("status");
    this.error = $("error");
    this.interim = $("interim");
    this.interimTranslation = $("interim-translation");
    this.transcript = $("transcript");
    this.button = $("record");
    this.speech = Promise.resolve();
  }

  say(text) {
    this.status.textContent = text;
  }

  fail(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  recording(on) {
    this.button.setAttribute("aria-pressed", String(on));
    this.button.textContent = on ? "Stop recording" : "Start recording";
    for (const id of ["from", "to", "swap"]) $(id).disabled = on;
  }

  showInterim(message) {
    this.interim.textContent = message.transcript;
    if (message.translation) this.interimTranslation.textContent = message.translation;
  }

  showFinal(message, from, to) {
    const item = document.createElement("li");
    const said = document.createElement("p");
    said.dataset.kind = "final";
    said.lang = from;
    said.textContent = message.transcript;
    const translated = document.createElement("p");
    translated.dataset.kind = "translation";
    translated.lang = to;
    translated.textContent = message.translation || "";
    item.append(said, translated);
    this.transcript.append(item);
    this.interim.textContent = "";
    this.interimTranslation.textContent = "";
    if (message.translation && $("speak").checked) this.speak(message.translation, to);
  }

  speak(text, language) {
    // One after the other: a queue of promises, each playing to its end.
    this.speech = this.speech.then(async () => {
      const response = await fetch("voice-google/text-to-speech", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text, language }),
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        this.fail(`Speaking failed: ${problem.error || response.status}`);
        return;
      }
      const url = URL.createObjectURL(await response.blob());
      const audio = new Audio(url);
      await new Promise((resolve) => {
        audio.onended = audio.onerror = resolve;
        audio.play().catch(resolve);
      });
      URL.revokeObjectURL(url);
    });
  }
}

class Session {
  constructor(page, from, to) {
    Object.assign(this, { page, from, to });
    this.reconnects = 0;
    this.stopping = false;
    this.ended = false;
  }

  async start() {
    if (!window.MediaRecorder || !navigator.mediaDevices) {
      throw new Error("This browser cannot record audio.");
    }
    // Google recognises best from unprocessed audio: no noise suppression or gain control.
    this.media = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false,
               autoGainControl: false },
    });
    this.connect();
  }

  connect() {
    const url = new URL("ws/realtime-interpreter", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.search = new URLSearchParams({ from: this.from, to: this.to }).toString();
    const socket = new WebSocket(url);
    this.socket = socket;
    this.answer = null; // the server's last word: "done" or an error message
    socket.onopen = () => this.record(socket);
    socket.onmessage = (event) => this.receive(JSON.parse(event.data));
    socket.onclose = (event) => this.closed(socket, event);
  }

  record(socket) {
    const mimeType = MIME_TYPES.find((type) => MediaRecorder.isTypeSupported(type));
    const recorder = new MediaRecorder(this.media, mimeType ? { mimeType } : {});
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0 && socket.readyState === WebSocket.OPEN) socket.send(event.data);
    };
    recorder.onstop = () => {
      if (this.stopping && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ type: "stop" }));
      }
    };
    recorder.start(TIMESLICE_MS);
    this.recorder = recorder;
    this.page.say(this.reconnects ? "Reconnected. Listening…" : "Listening…");
  }

  stop() {
    this.stopping = true;
    this.page.say("Finishing…");
    if (this.recorder && this.recorder.state !== "inactive") {
      this.recorder.stop(); // its last blob, then {"type": "stop"}
    } else if (this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ type: "stop" }));
    } else {
      this.finish("Stopped.");
    }
  }

  receive(message) {
    if (message.type === "interim") this.page.showInterim(message);
    else if (message.type === "final") this.page.showFinal(message, this.from, this.to);
    else if (message.type === "done" || message.type === "error") this.answer = message;
  }

  closed(socket, event) {
    if (socket !== this.socket || this.ended) return;
    if (this.recorder && this.recorder.state !== "inactive") {
      this.recorder.onstop = null;
      this.recorder.stop();
    }
    const answer = this.answer;
    if (!answer && !this.stopping && this.reconnects < 1) {
      // Dropped without a word from the server: try once more, with a fresh recording
      // (a new socket needs the container header a recorder writes when it starts).
      this.reconnects += 1;
      this.page.say("Connection lost. Reconnecting…");
      this.connect();
      return;
    }
    if (answer && answer.type === "error") {
      this.page.fail(answer.error || CLOSE_MESSAGES[event.code] || "The interpreter failed.");
    } else if (!answer || event.code !== 1000) {
      this.page.fail(CLOSE_MESSAGES[event.code] || `The connection closed (${event.code}).`);
    }
    this.finish(answer && answer.type === "done" ? "Stopped." : "Stopped with an error.");
  }

  finish(text) {
    this.ended = true;
    for (const track of this.media ? this.media.getTracks() : []) track.stop();
    this.page.recording(false);
    this.page.say(text);
    this.onended();
  }
}

function main() {
  const params = new URLSearchParams(location.search);
  const from = $("from");
  const to = $("to");
  fillLanguages(from, params.get("from") || "de-DE");
  fillLanguages(to, params.get("to") || "en-US");
  const page = new Page();
  let session = null;

  $("swap").addEventListener("click", () => {
    [from.value, to.value] = [to.value, from.value];
  });

  async function start() {
    page.fail("");
    page.recording(true);
    page.say("Asking for the microphone…");
    session = new Session(page, from.value, to.value);
    session.onended = () => { session = null; };
    try {
      await session.start();
    } catch (error) {
      const refused = error && error.name === "NotAllowedError";
      page.fail(refused ? "Microphone access was refused." : `Cannot record: ${error.message}`);
      session.finish("Stopped.");
    }
  }

  page.button.addEventListener("click", () => (session ? session.stop() : start()));
  if (params.get("autostart") === "1") start();
}

main();
