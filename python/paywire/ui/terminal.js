// The screen: printing output lines, the prompt with its history, and questions asked inside a
// command (with hidden input for passwords). Text is only ever set through textContent.

export class Cancelled extends Error {}

const HISTORY_LIMIT = 200;

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
    this.queue = Promise.resolve();
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    input.addEventListener("keydown", (event) => this.key(event));
    output.addEventListener("click", () => input.focus());
  }

  onCommand(handler) {
    this.handler = handler;
  }

  print(text, kind = "out") {
    const line = document.createElement("div");
    line.className = `line ${kind}`;
    line.textContent = text;
    this.output.appendChild(line);
    this.output.scrollTop = this.output.scrollHeight;
  }

  printLines(lines, kind = "out") {
    for (const text of lines) this.print(text, kind);
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

  // Ask one question; resolves with the answer, rejects with Cancelled on Escape or Ctrl+C.
  ask(question, { secret = false } = {}) {
    return new Promise((resolve, reject) => {
      this.pending = { question, secret, resolve, reject };
      this.label.textContent = question;
      this.input.type = secret ? "password" : "text";
      this.input.value = "";
      this.input.focus();
    });
  }

  submit() {
    const value = this.input.value;
    this.input.value = "";
    if (this.pending) {
      const { question, secret, resolve } = this.pending;
      this.endQuestion();
      this.print(`${question} ${secret ? "********" : value}`, "cmd");
      resolve(value);
      return;
    }
    const line = value.trim();
    this.print(`${this.prompt} ${value}`, "cmd");
    if (!line) return;
    if (this.history[this.history.length - 1] !== line) {
      this.history.push(line);
      if (this.history.length > HISTORY_LIMIT) this.history.shift();
    }
    this.cursor = this.history.length;
    this.draft = "";
    // Commands run one after another, in the order they were typed.
    this.queue = this.queue.then(() => this.handler && this.handler(line));
  }

  endQuestion() {
    this.pending = null;
    this.input.type = "text";
    this.label.textContent = this.prompt;
  }

  key(event) {
    if (event.key === "Escape" || (event.ctrlKey && event.key === "c")) {
      if (this.pending) {
        event.preventDefault();
        const { reject } = this.pending;
        this.endQuestion();
        this.input.value = "";
        reject(new Cancelled("cancelled"));
      }
      return;
    }
    if (event.ctrlKey && event.key === "l") {
      event.preventDefault();
      this.clear();
      return;
    }
    if (this.pending) return;
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
