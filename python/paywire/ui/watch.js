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

  // Start (or keep) following a payment the operator created, showed or acted on: when 25 are
  // followed, a listed row is dropped for it before any such one.
  track(payment) {
    const dropped = this.follow(payment, true);
    if (dropped) this.dropped([dropped.label]);
  }

  // Follow a list's rows, newest first as the API gives them: the newest not final that fit
  // beside the operator's own payments, added oldest first so that the newest are the last to
  // go. The rows of an earlier list they push out are told in one line, not one each.
  trackList(payments) {
    for (const p of payments) if (FINAL.has(p.status)) this.follow(p, false);
    const open = payments.filter((p) => !FINAL.has(p.status));
    const own = (p) => (this.watched.get(p.id) || {}).pinned;
    const pinned = [...this.watched.values()].filter((e) => e.pinned).length;
    const rows = open.filter((p) => !own(p)).slice(0, MAX_WATCHED - pinned);
    const dropped = [];
    for (const p of open.filter(own).concat(rows.reverse())) {
      const entry = this.follow(p, false);
      if (entry) dropped.push(entry.label);
    }
    if (dropped.length > 0) this.dropped(dropped);
  }

  // One line for the payments no longer followed, so that the operator knows to look again.
  dropped(labels) {
    const limit = `no longer followed (following ${MAX_WATCHED} at most)`;
    const text =
      labels.length === 1
        ? `${labels[0]} ${limit}: pay show it to follow it again`
        : `${labels.length} payments listed earlier ${limit}: pay show one to follow it again`;
    this.terminal.print(text, "info");
  }

  // Follow one payment, `pinned` if the operator's own (created, shown, acted on), as the most
  // recent; the entry dropped to make room for it, if one was.
  follow(payment, pinned) {
    // A final status is the last a payment has: no answer overtaken by another can hold one.
    if (FINAL.has(payment.status)) {
      this.watched.delete(payment.id);
      return null;
    }
    const known = this.watched.get(payment.id);
    if (known) {
      this.observe(known, payment);
      if (!this.watched.has(known.id)) return null;
      // Taken again, it is as recent as a new one (the Map keeps insertion order).
      this.watched.delete(known.id);
      known.pinned = known.pinned || pinned;
      this.watched.set(known.id, known);
      return null;
    }
    let dropped = null;
    if (this.watched.size >= MAX_WATCHED) {
      dropped = this.oldest(pinned);
      // Full of the operator's own payments: a listed row is not followed rather than one of them.
      if (!dropped) return null;
      this.watched.delete(dropped.id);
    }
    const { id, reference, status, updated_at: updated } = payment;
    this.watched.set(id, { id, label: reference || id, path: [status], updated, pinned });
    this.schedule();
    return dropped;
  }

  // The entry to drop for a new one: the oldest listed row, else (for one of the operator's
  // own) the oldest of theirs.
  oldest(pinned) {
    const entries = [...this.watched.values()];
    return entries.find((e) => !e.pinned) || (pinned ? entries[0] : null);
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
