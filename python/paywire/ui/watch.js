// Live status updates: payments shown or created on screen are polled through the API and
// every change is printed as the path so far, e.g. "PW-… INITIATED → APPROVED → SCREENED".

import { ApiError } from "./api.js";

const INTERVAL_MS = 1500;
const MAX_WATCHED = 25;
const FINAL = new Set(["COMPLETED", "FAILED", "REJECTED", "CANCELLED"]);

// Whether a payment's representation is newer than the last one its entry took. Answers can
// arrive out of order (a poll sent before a command's answer comes after it), and an older
// one would show the payment going back. `updated_at` is UTC with microseconds at a fixed
// width, so text order is time order.
function newer(payment, entry) {
  return payment.updated_at > entry.updated;
}

export class Watcher {
  constructor(api, terminal) {
    this.api = api;
    this.terminal = terminal;
    this.watched = new Map();
    this.timer = null;
    // The generation of following, aborted by stop(): a poll loop checks it after every await
    // and ends, so nothing of an operator who left is printed for the next (its request is
    // aborted with it).
    this.generation = new AbortController();
    // Polls that fail are told once when updates pause, and once when they resume.
    this.paused = false;
  }

  // Start (or keep) following a payment as it is now on screen.
  track(payment) {
    // A final status is the last a payment has: no answer overtaken by another can hold one.
    if (FINAL.has(payment.status)) {
      this.watched.delete(payment.id);
      return;
    }
    const known = this.watched.get(payment.id);
    if (known) {
      this.observe(known, payment);
      return;
    }
    if (this.watched.size >= MAX_WATCHED) {
      this.watched.delete(this.watched.keys().next().value);
    }
    const { id, reference, status, updated_at: updated } = payment;
    this.watched.set(id, { id, label: reference || id, path: [status], updated });
    this.schedule();
  }

  stop() {
    this.generation.abort();
    this.generation = new AbortController();
    this.watched.clear();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.paused = false;
  }

  observe(entry, payment) {
    if (!newer(payment, entry)) return;
    entry.updated = payment.updated_at;
    if (entry.path[entry.path.length - 1] === payment.status) return;
    entry.path.push(payment.status);
    this.terminal.print(`${entry.label}  ${entry.path.join(" → ")}`, "update");
    if (FINAL.has(payment.status)) this.watched.delete(entry.id);
  }

  schedule() {
    if (this.timer === null && this.watched.size > 0) {
      this.timer = setTimeout(() => this.poll(), INTERVAL_MS);
    }
  }

  async poll() {
    this.timer = null;
    const { signal } = this.generation;
    for (const entry of [...this.watched.values()]) {
      // While a sign-in is in flight the page holds no token for a moment: following waits
      // for the next tick (the session's end is what stops it, through stop()).
      if (!this.api.signedIn || !(await this.refresh(entry, signal))) break;
    }
    if (!signal.aborted) this.schedule();
  }

  // Poll one payment; false if that failed, which ends this tick (the next one tries again).
  async refresh(entry, signal) {
    try {
      const path = `/api/v1/payments/${encodeURIComponent(entry.id)}`;
      const payment = await this.api.get(path, undefined, signal);
      if (signal.aborted) return false;
      this.resume();
      // One no longer followed meanwhile (final, or dropped for a newer one) is not printed.
      if (this.watched.get(entry.id) === entry) this.observe(entry, payment);
      return true;
    } catch (error) {
      if (!signal.aborted) this.pause(error);
      return false;
    }
  }

  pause(error) {
    if (this.paused) return;
    this.paused = true;
    const reason = error instanceof ApiError ? error.lines()[0] : error.message;
    this.terminal.print(`live updates paused: ${reason}`, "err");
  }

  resume() {
    if (!this.paused) return;
    this.paused = false;
    this.terminal.print("live updates resumed", "info");
  }
}
