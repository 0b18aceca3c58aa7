// Wires the terminal page together: the screen, the API client, the live watcher, the commands.

import { Aborted, Api, ApiError } from "./api.js";
import { UsageError, findCommand, splitLine } from "./commands.js";
import { Cancelled, Terminal } from "./terminal.js";
import { Watcher } from "./watch.js";

const PROMPT = "paywire>";

function start() {
  const terminal = new Terminal({
    output: document.getElementById("output"),
    input: document.getElementById("prompt"),
    label: document.getElementById("prompt-label"),
    form: document.getElementById("prompt-form"),
    prompt: PROMPT,
  });
  const api = new Api();
  const watcher = new Watcher(api, terminal);
  // What one operator saw (payments, accounts, audit rows), typed (references, reasons) and
  // left unconfirmed leaves the page with them: at logout, when their session ends, when
  // another signs in. A question still open is cancelled, as Esc does: the next person's
  // input must not answer it.
  const leave = () => {
    terminal.cancelQuestion();
    watcher.stop();
    terminal.clear();
    terminal.forgetHistory();
    ctx.unconfirmed = null;
  };
  const report = (error) => {
    if (error instanceof ApiError) terminal.printLines(error.lines(), "err");
    else if (error instanceof UsageError) terminal.print(`usage: ${error.message}`, "err");
    else if (error instanceof Cancelled) terminal.print("cancelled", "info");
    else if (error instanceof Aborted) terminal.print("aborted", "info");
    else terminal.print(`error: ${error.message}`, "err");
  };
  const ctx = {
    api,
    terminal,
    watcher,
    leave,
    report,
    // The last `pay new` entry whose payment may or may not exist, with its Idempotency-Key.
    unconfirmed: null,
    ask: (question, options) => terminal.ask(question, options),
    out: (lines) => (Array.isArray(lines) ? terminal.printLines(lines) : terminal.print(lines)),
    ok: (text) => terminal.print(text, "ok"),
    info: (text) => terminal.print(text, "info"),
  };
  api.onSessionEnd = () => {
    leave();
    terminal.print("the session has ended (expired or revoked): log in again", "info");
  };

  terminal.onCommand(async (line, signal) => {
    const [name, ...args] = splitLine(line);
    const command = findCommand(name);
    if (!command) {
      terminal.print(`unknown command: ${name} (try help)`, "err");
      return;
    }
    api.signal = signal;
    try {
      await command.run(ctx, args);
    } catch (error) {
      report(error);
    } finally {
      api.signal = null;
    }
  });

  terminal.print("paywire terminal. Type help for the commands, login to sign in.", "info");
  terminal.input.focus();
}

start();
