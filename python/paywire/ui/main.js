// Wires the terminal page together: the screen, the API client, the live watcher, the commands.

import { Api, ApiError } from "./api.js";
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
  // What one operator saw (payments, accounts, audit rows) and typed (references, reasons)
  // leaves the page with them: at logout, when their session ends, when another signs in.
  const leave = () => {
    watcher.stop();
    terminal.clear();
    terminal.forgetHistory();
  };
  api.onSessionEnd = () => {
    leave();
    terminal.print("the session has ended (expired or revoked): log in again", "info");
  };
  const ctx = {
    api,
    terminal,
    watcher,
    leave,
    ask: (question, options) => terminal.ask(question, options),
    out: (lines) => (Array.isArray(lines) ? terminal.printLines(lines) : terminal.print(lines)),
    ok: (text) => terminal.print(text, "ok"),
    info: (text) => terminal.print(text, "info"),
  };

  terminal.onCommand(async (line) => {
    const [name, ...args] = splitLine(line);
    const command = findCommand(name);
    if (!command) {
      terminal.print(`unknown command: ${name} (try help)`, "err");
      return;
    }
    try {
      await command.run(ctx, args);
    } catch (error) {
      if (error instanceof ApiError) terminal.printLines(error.lines(), "err");
      else if (error instanceof UsageError) terminal.print(`usage: ${error.message}`, "err");
      else if (error instanceof Cancelled) terminal.print("cancelled", "info");
      else terminal.print(`error: ${error.message}`, "err");
    }
  });

  terminal.print("paywire terminal. Type help for the commands, login to sign in.", "info");
  terminal.input.focus();
}

start();
