// The screen: printing output lines, the prompt with its history, and questions asked inside a
// command (with hidden input for passwords). Text is only ever set through textContent.

import { Table, showable } from "./table.js";

export class Cancelled extends Error {}

const HISTORY_LIMIT = 200;
// The prompt's label while a command waits for the gateway rather than for the operator.
const BUSY = "…";
// How far from the end the view still counts as at the bottom (scroll offsets are fractional).
const BOTTOM_SLACK_PX = 4;

export class Terminal {
  constructor({ output, input, label, form, prompt }) {
    this.output = output;
    this.input = input;
    this.label = label;
    this.prompt = prompt;
    this.history = [];
    this.cursor = 0;
    this.draft = "";
    this.pending = null;
    this.handler = null;
    // The running command's AbortController (Esc aborts its requests), null at the prompt.
    this.running = null;
    this.hinted = false;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener("keydown", (event) => this.key(event));
    // Esc interrupts wherever the focus is (the operator may have clicked the output to select
    // text); Ctrl+C only in the prompt, as elsewhere it copies.
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && event.target !== input) this.interrupt(event);
    });
    // A click brings the caret back to the prompt, but not one that ended a selection: moving
    // the focus would drop the text the operator selected to copy.
    output.addEventListener("click", () => {
      if (document.getSelection().isCollapsed) input.focus();
    });
  }

  onCommand(handler) {
    this.handler = handler;
  }

  // One line of output. Whatever it holds (server text among it) keeps to its line and its
  // order; the view follows new lines only if it was at the bottom, so an operator reading
  // back is not pulled away by output arriving meanwhile (live updates, a slow answer).
  print(text, kind = "out") {
    const following = this.atBottom();
    const line = document.createElement("div");
    line.className = `line ${kind}`;
    line.textContent = showable(text);
    this.output.appendChild(line);
    if (following) this.scrollToEnd();
  }

  printLines(lines, kind = "out") {
    for (const text of lines) this.print(text, kind);
  }

  // What a command prints: a line, lines, or a table.
  out(what) {
    if (what instanceof Table) this.printTable(what);
    else if (Array.isArray(what)) this.printLines(what);
    else this.print(what);
  }

  // A table, one line per row and a box per cell. The boxes of a column are made as wide as its
  // widest, so its cells line up whatever their characters take on screen (combining marks take
  // no column, East Asian letters two, whatever the padding counted), and each box is an
  // isolated run of text: two right-to-left names side by side cannot change places.
  printTable({ rows, right, empty }) {
    const following = this.atBottom();
    const lines = rows.map((cells) => {
      const line = document.createElement("div");
      line.className = "line out";
      line.append(
        ...cells.map((text, column) => {
          const box = document.createElement("span");
          box.className = right[column] ? "cell right" : "cell";
          box.textContent = showable(text);
          return box;
        }),
      );
      return line;
    });
    this.output.append(...lines);
    alignColumns(lines, parseFloat(getComputedStyle(this.output).fontSize));
    if (empty) this.print("(none)");
    if (following) this.scrollToEnd();
  }

  atBottom() {
    const { scrollHeight, scrollTop, clientHeight } = this.output;
    return scrollHeight - scrollTop - clientHeight <= BOTTOM_SLACK_PX;
  }

  scrollToEnd() {
    this.output.scrollTop = this.output.scrollHeight;
  }

  clear() {
    this.output.replaceChildren();
  }

  // Drop the command history, the recall cursor and the unsent line kept for recall: what one
  // operator typed is not brought back by Up for the next one.
  forgetHistory() {
    this.history = [];
    this.cursor = 0;
    this.draft = "";
  }

  // Ask one question; resolves with the answer, rejects with Cancelled on Escape or Ctrl+C, or
  // when the session ends (cancelQuestion).
  ask(question, { secret = false } = {}) {
    return new Promise((resolve, reject) => {
      this.pending = { question, secret, resolve, reject };
      this.input.type = secret ? "password" : "text";
      this.input.value = "";
      this.show();
      this.input.focus();
    });
  }

  // Give up the open question, as Esc does: the command that asked it ends with Cancelled.
  cancelQuestion() {
    if (!this.pending) return;
    const { reject } = this.pending;
    this.endQuestion();
    reject(new Cancelled("cancelled"));
  }

  submit() {
    if (this.pending) {
      this.answer();
      return;
    }
    if (this.running) {
      this.refuse();
      return;
    }
    const value = this.input.value;
    this.input.value = "";
    const line = value.trim();
    this.echo(`${this.prompt} ${value}`);
    if (!line) return;
    if (this.history[this.history.length - 1] !== line) {
      this.history.push(line);
      if (this.history.length > HISTORY_LIMIT) this.history.shift();
    }
    this.cursor = this.history.length;
    this.draft = "";
    this.run(line);
  }

  answer() {
    const { question, secret, resolve } = this.pending;
    const value = this.input.value;
    this.endQuestion();
    this.echo(`${question} ${secret ? "********" : value}`);
    resolve(value);
  }

  // The operator's own line (a command, an answer) brings the view to the end, where what it
  // leads to will be printed.
  echo(text) {
    this.print(text, "cmd");
    this.scrollToEnd();
  }

  // One command at a time, and lines typed while it runs are refused, not queued: a queued
  // line would run as a command even if it was meant as the answer to a question not asked
  // yet (a password typed ahead of `login`), and be echoed and kept in the history.
  async run(line) {
    this.running = new AbortController();
    this.show();
    try {
      await this.handler(line, this.running.signal);
    } finally {
      this.running = null;
      this.hinted = false;
      this.show();
      this.input.focus();
    }
  }

  // Enter while a command waits for the gateway takes nothing (the input is read-only then);
  // one line per command says so, and how to stop it.
  refuse() {
    if (this.hinted) return;
    this.hinted = true;
    this.print("busy: a command is running (Esc aborts it)", "info");
  }

  endQuestion() {
    this.pending = null;
    this.input.type = "text";
    this.input.value = "";
    this.show();
  }

  // Whom the page waits for, on the label and the output's aria-busy: the operator (the prompt,
  // or a question) or the gateway (a command running: "…", and the input takes no typing).
  show() {
    const waiting = this.running !== null && this.pending === null;
    if (this.pending) this.label.textContent = this.pending.question;
    else this.label.textContent = waiting ? BUSY : this.prompt;
    this.output.setAttribute("aria-busy", String(waiting));
    this.input.readOnly = waiting;
  }

  // Text selected in the prompt or on the page, which Ctrl+C copies rather than interrupts.
  selected() {
    const { selectionStart, selectionEnd } = this.input;
    return selectionStart !== selectionEnd || !document.getSelection().isCollapsed;
  }

  // Esc, or Ctrl+C with nothing selected: cancel the open question, else abort the command.
  interrupt(event) {
    if (this.pending) {
      event.preventDefault();
      this.cancelQuestion();
    } else if (this.running) {
      event.preventDefault();
      this.abortCommand();
    }
  }

  // End the running command's requests (Esc, or the session's end under it).
  abortCommand() {
    if (this.running) this.running.abort();
  }

  key(event) {
    if (event.key === "Escape" || (event.ctrlKey && event.key === "c" && !this.selected())) {
      this.interrupt(event);
      return;
    }
    if (event.ctrlKey && event.key === "l") {
      event.preventDefault();
      this.clear();
      return;
    }
    if (this.pending || this.running) return;
    if (event.key === "ArrowUp" && this.cursor > 0) {
      event.preventDefault();
      if (this.cursor === this.history.length) this.draft = this.input.value;
      this.cursor -= 1;
      this.input.value = this.history[this.cursor];
    } else if (event.key === "ArrowDown" && this.cursor < this.history.length) {
      event.preventDefault();
      this.cursor += 1;
      this.input.value = this.cursor === this.history.length ? this.draft : this.history[this.cursor];
    }
  }
}

// Every box of a column as wide as the column's widest, in em: the table stays aligned when the
// page is zoomed. All widths are read before any is set, so the layout is computed once.
function alignColumns(lines, emPx) {
  const boxes = lines.map((line) => Array.from(line.children));
  const widths = [];
  for (const row of boxes) {
    row.forEach((box, column) => {
      widths[column] = Math.max(widths[column] || 0, box.getBoundingClientRect().width);
    });
  }
  for (const row of boxes) {
    row.forEach((box, column) => {
      box.style.minWidth = `${Math.ceil((widths[column] / emPx) * 1000) / 1000}em`;
    });
  }
}
