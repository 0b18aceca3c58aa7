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
  // The last `pay new` entry whose payment may or may not exist, with its Idempotency-Key.
  let unconfirmed = null;
  // The last list shown, as far as `more` has taken it: the next page's cursor with it.
  let lastList = null;
  // Counts the sessions that ended under a running command (expired, or found revoked).
  let ended = 0;
  // What one operator saw (payments, accounts, audit rows, the list they were paging through),
  // typed (references, reasons) and left unconfirmed leaves the page with them: at logout,
  // when their session ends, when another signs in. A question still open is cancelled, as Esc
  // does: the next person's input must not answer it.
  const leave = () => {
    terminal.cancelQuestion();
    watcher.stop();
    terminal.clear();
    terminal.forgetHistory();
    unconfirmed = null;
    lastList = null;
  };
  const report = (error) => {
    if (error instanceof ApiError) terminal.printLines(error.lines(), "err");
    else if (error instanceof UsageError) terminal.print(`usage: ${error.message}`, "err");
    else if (error instanceof Cancelled) terminal.print("cancelled", "info");
    else if (error instanceof Aborted) terminal.print("aborted", "info");
    else terminal.print(`error: ${error.message}`, "err");
  };
  // A command's hold on the page, for as long as the session it started in lasts. When that
  // session ends while the command waits for the gateway, whatever the command would still do
  // (print a late answer, keep an entry to send again, follow a payment) belongs to the
  // operator who has gone, and is dropped: the next to sign in must not see it, nor be
  // offered to send it again under their own name.
  const contextOf = () => {
    const started = ended;
    const live = () => ended === started;
    const when = (act) => (...args) => (live() ? act(...args) : undefined);
    // A 401 to the command's own request is why its session ended: said, whatever else of the
    // command is dropped (it holds nothing of the operator's).
    const ended401 = (error) => error instanceof ApiError && error.status === 401;
    return {
      api,
      terminal,
      leave,
      report: (error) => (live() || ended401(error) ? report(error) : undefined),
      watcher: { track: when((p) => watcher.track(p)), trackList: when((ps) => watcher.trackList(ps)) },
      get unconfirmed() {
        return unconfirmed;
      },
      set unconfirmed(entry) {
        if (live()) unconfirmed = entry;
      },
      get lastList() {
        return lastList;
      },
      set lastList(list) {
        if (live()) lastList = list;
      },
      ask: (question, options) =>
        live() ? terminal.ask(question, options) : Promise.reject(new Cancelled("cancelled")),
      out: when((what) => terminal.out(what)),
      ok: when((text) => terminal.print(text, "ok")),
      info: when((text) => terminal.print(text, "info")),
    };
  };
  api.onSessionEnd = () => {
    ended += 1;
    terminal.abortCommand();
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
    const ctx = contextOf();
    try {
      await command.run(ctx, args, line);
    } catch (error) {
      ctx.report(error);
    } finally {
      api.signal = null;
    }
  });

  terminal.print("paywire terminal. Type help for the commands, login to sign in.", "info");
  terminal.input.focus();
}

start();
