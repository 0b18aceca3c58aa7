// Live status updates: payments shown or created on screen are polled through the API and
// every change is printed as the path so far, e.g. "PW-… INITIATED → APPROVED → SCREENED".

const INTERVAL_MS = 1500;
const MAX_WATCHED = 25;
const FINAL = new Set(["COMPLETED", "FAILED", "REJECTED", "CANCELLED"]);

export class Watcher {
  constructor(api, terminal) {
    this.api = api;
    this.terminal = terminal;
    this.watched = new Map();
    this.timer = null;
  }

  // Start (or keep) following a payment as it is now on screen.
  track(payment) {
    if (FINAL.has(payment.status)) {
      this.watched.delete(payment.id);
      return;
    }
    const known = this.watched.get(payment.id);
    if (known) {
      this.observe(known, payment.status);
      return;
    }
    if (this.watched.size >= MAX_WATCHED) {
      this.watched.delete(this.watched.keys().next().value);
    }
    this.watched.set(payment.id, { id: payment.id, label: payment.reference || payment.id, path: [payment.status] });
    this.schedule();
  }

  stop() {
    this.watched.clear();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  observe(entry, status) {
    if (entry.path[entry.path.length - 1] === status) return;
    entry.path.push(status);
    this.terminal.print(`${entry.label}  ${entry.path.join(" → ")}`, "update");
    if (FINAL.has(status)) this.watched.delete(entry.id);
  }

  schedule() {
    if (this.timer === null && this.watched.size > 0) {
      this.timer = setTimeout(() => this.poll(), INTERVAL_MS);
    }
  }

  async poll() {
    this.timer = null;
    if (!this.api.signedIn) {
      this.watched.clear();
      return;
    }
    for (const entry of [...this.watched.values()]) {
      try {
        const payment = await this.api.get(`/api/v1/payments/${encodeURIComponent(entry.id)}`);
        this.observe(entry, payment.status);
      } catch {
        // A failed poll is retried on the next tick; the command output is what reports errors.
      }
    }
    this.schedule();
  }
}
