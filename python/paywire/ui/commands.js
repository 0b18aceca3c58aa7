// The terminal's commands: each parses its arguments, calls the public API and prints the
// result as aligned text. `help` is generated from this table.

import { ApiError, Unanswered } from "./api.js";
import { keyValues, table } from "./table.js";

const PAYMENTS = "/api/v1/payments";
// Rows a page of a list asks for: one screenful or so; `more` shows the next.
const LIST_LIMIT = 50;

const paymentColumns = [
  { title: "REFERENCE", key: (p) => p.reference || p.id },
  { title: "STATUS", key: "status" },
  { title: "AMOUNT", key: "amount", right: true },
  { title: "CCY", key: "currency" },
  { title: "VALUE DATE", key: "value_date" },
  { title: "DEBTOR", key: (p) => p.debtor && p.debtor.name },
  { title: "CREDITOR", key: (p) => p.creditor && p.creditor.name },
  { title: "BY", key: "created_by" },
];

function paymentPath(id, action) {
  return `${PAYMENTS}/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;
}

function need(args, count, usage) {
  if (args.length < count) throw new UsageError(usage);
}

export class UsageError extends Error {}

function today() {
  return new Date().toISOString().slice(0, 10);
}

function showPayment(ctx, p) {
  ctx.out(
    keyValues([
      ["id", p.id],
      ["reference", p.reference],
      ["status", p.status],
      ["amount", `${p.amount} ${p.currency}`],
      ["value date", p.value_date],
      // A name and an account each on a line of its own: a right-to-left name followed by an
      // account of digits would be drawn after it, the account first.
      ["debtor", p.debtor && p.debtor.name],
      ["debtor account", p.debtor && p.debtor.account],
      ["creditor", p.creditor && p.creditor.name],
      ["creditor account", p.creditor && p.creditor.account],
      ["creditor agent", p.creditor && p.creditor.agent_bic],
      ["end-to-end id", p.end_to_end_id],
      ["remittance", p.remittance_info],
      ["uetr", p.uetr],
      ["msg id", p.msg_id],
      ["created", `${p.created_at} by ${p.created_by}`],
      ["approved by", p.approved_by],
      ["reason", p.reason && `${p.reason.code} ${p.reason.text || ""}`.trim()],
    ]),
  );
  ctx.watcher.track(p);
}

async function paymentAction(ctx, id, action, body, done) {
  const p = await ctx.api.post(paymentPath(id, action), body);
  ctx.ok(`${p.reference || p.id} ${done}: ${p.status}`);
  ctx.watcher.track(p);
}

const COMMANDS = [
  {
    name: "help",
    usage: "help",
    about: "list the commands",
    run: async (ctx) => {
      ctx.out(table([{ title: "COMMAND", key: "usage" }, { title: "DOES", key: "about" }], COMMANDS));
      ctx.info("Up/Down: history · Esc or Ctrl+C: cancel a question, abort a command · Ctrl+L: clear");
    },
  },
  {
    name: "login",
    usage: "login [USERNAME]",
    about: "sign in (the password is asked with hidden input)",
    run: async (ctx, args) => {
      const username = args[0] || (await ctx.ask("username:"));
      const password = await ctx.ask("password:", { secret: true });
      const before = ctx.api.operator;
      const result = await ctx.api.signIn(username, password);
      if (before && before.username !== result.operator.username) ctx.leave();
      ctx.ok(`signed in as ${result.operator.username} (${result.operator.roles.join(", ")}); session ends ${result.expires_at}`);
      if (result.operator.password_change_required) {
        ctx.info("your password was set by an administrator: choose your own now");
        await changePassword(ctx, password);
      }
    },
  },
  {
    name: "passwd",
    usage: "passwd",
    about: "change your own password (hidden input); you then sign in again with it",
    run: async (ctx) => {
      if (!ctx.api.signedIn) return ctx.info("not signed in");
      return changePassword(ctx);
    },
  },
  {
    name: "logout",
    usage: "logout",
    about: "sign out and revoke the token",
    run: async (ctx) => {
      if (!ctx.api.signedIn) return ctx.info("not signed in");
      const ends = ctx.api.ends;
      try {
        await ctx.api.post("/api/v1/auth/logout");
      } finally {
        // Unless the session had ended already (the 401): the page was left then, and said so.
        if (ctx.api.ends === ends) {
          ctx.api.forget();
          ctx.leave();
        }
      }
      ctx.ok("signed out");
    },
  },
  {
    name: "whoami",
    usage: "whoami",
    about: "the signed-in operator and roles",
    run: async (ctx) => {
      const me = await ctx.api.get("/api/v1/auth/me");
      ctx.out(keyValues([["username", me.username], ["roles", me.roles], ["id", me.id]]));
    },
  },
  {
    name: "pay",
    usage: "pay new | pay list [STATUS] | pay show ID",
    about: "enter a payment, list payments, show one with its history",
    run: async (ctx, args) => {
      const [sub, ...rest] = args;
      if (sub === "new") return payNew(ctx);
      if (sub === "list") return payList(ctx, rest[0]);
      if (sub === "show") {
        need(rest, 1, "pay show ID");
        return payShow(ctx, rest[0]);
      }
      throw new UsageError("pay new | pay list [STATUS] | pay show ID");
    },
  },
  {
    name: "more",
    usage: "more",
    about: "the next page of the last list shown (pay list, exceptions, audit)",
    run: async (ctx) => morePage(ctx),
  },
  {
    name: "approve",
    usage: "approve ID",
    about: "approve a payment (CHECKER, not its maker)",
    run: async (ctx, args) => {
      need(args, 1, "approve ID");
      await paymentAction(ctx, args[0], "approve", {}, "approved");
    },
  },
  {
    name: "reject",
    usage: "reject ID REASON",
    about: "reject a payment with a reason (CHECKER)",
    run: async (ctx, args, line) => {
      need(args, 2, "reject ID REASON");
      await paymentAction(ctx, args[0], "reject", { reason: wordsAfter(line, 2) }, "rejected");
    },
  },
  {
    name: "cancel",
    usage: "cancel ID",
    about: "cancel a payment not yet approved (its MAKER or an ADMIN)",
    run: async (ctx, args) => {
      need(args, 1, "cancel ID");
      await paymentAction(ctx, args[0], "cancel", {}, "cancelled");
    },
  },
  {
    name: "compliance",
    usage: "compliance ID release|reject REASON",
    about: "decide on a HELD payment; the rest of the line is the reason (COMPLIANCE)",
    run: async (ctx, args, line) => {
      const usage = "compliance ID release|reject REASON";
      need(args, 3, usage);
      const [id, decision] = args;
      if (!["release", "reject"].includes(decision)) throw new UsageError(usage);
      const done = decision === "release" ? "released" : "rejected";
      const reason = wordsAfter(line, 3);
      await paymentAction(ctx, id, "compliance", { decision, reason }, done);
    },
  },
  {
    name: "retry",
    usage: "retry ID",
    about: "drive a stuck payment on now: one more transmission, or out of quarantine (ADMIN)",
    run: async (ctx, args) => {
      need(args, 1, "retry ID");
      await paymentAction(ctx, args[0], "retry", {}, "retried");
    },
  },
  {
    name: "recon",
    usage: "recon daily [DATE] | recon aging DAYS",
    about: "reconciliation report of a day (default today), or unmatched items older than DAYS",
    run: async (ctx, args) => {
      const [sub, value] = args;
      if (sub === "daily") return reconDaily(ctx, value || today());
      if (sub === "aging") {
        need(args, 2, "recon aging DAYS");
        const report = await ctx.api.get(`${PAYMENTS}/reconciliation/aging`, { days: value });
        return printUnmatched(ctx, report.unmatched || []);
      }
      throw new UsageError("recon daily [DATE] | recon aging DAYS");
    },
  },
  {
    name: "exceptions",
    usage: "exceptions [open|resolved|all] [KIND]",
    about: "the exception queue, open items by default, optionally of one kind (ADMIN)",
    run: async (ctx, args) => listExceptions(ctx, args),
  },
  {
    name: "resolve",
    usage: "resolve EXCEPTION_ID",
    about: "resolve an exception: asks what was done, and for a note (ADMIN)",
    run: async (ctx, args) => {
      need(args, 1, "resolve EXCEPTION_ID");
      await resolveException(ctx, args[0]);
    },
  },
  {
    name: "tls",
    usage: "tls",
    about: "TLS pool connections and circuit breaker (ADMIN)",
    run: async (ctx) => {
      const status = await ctx.api.get("/api/v1/admin/tls");
      const connections = status.connections || [];
      const keys = connections.length ? Object.keys(connections[0]) : ["state"];
      const columns = keys.map((k) => ({
        title: k.toUpperCase(),
        key: (row) => (row[k] !== null && typeof row[k] === "object" ? JSON.stringify(row[k]) : row[k]),
        right: typeof (connections[0] || {})[k] === "number",
      }));
      ctx.out(table(columns, connections));
      ctx.out(`circuit breaker: ${status.circuit_breaker && status.circuit_breaker.state}`);
    },
  },
  {
    name: "cb",
    usage: "cb reset",
    about: "close the circuit breaker by hand (ADMIN, audited)",
    run: async (ctx, args) => {
      if (args[0] !== "reset") throw new UsageError("cb reset");
      const result = await ctx.api.post("/api/v1/admin/tls/circuit-breaker/reset");
      ctx.ok(`circuit breaker: ${result.state}`);
    },
  },
  {
    name: "audit",
    usage: "audit [N]",
    about: "the latest N audit records (AUDITOR, ADMIN)",
    run: async (ctx, args) => {
      const columns = [
        { title: "ID", key: "id", right: true },
        { title: "TIME", key: "timestamp" },
        { title: "OPERATOR", key: "operator" },
        { title: "ACTION", key: "action" },
        { title: "ENTITY", key: "entity" },
        { title: "ENTITY ID", key: "entity_id" },
      ];
      const query = { limit: args[0] || 20 };
      await listPage(ctx, { path: "/api/v1/audit-logs", query, columns, noun: "audit records" });
    },
  },
  {
    name: "clear",
    usage: "clear",
    about: "clear the screen",
    run: async (ctx) => ctx.terminal.clear(),
  },
];

// A new password, asked twice with hidden input and sent with the current one (asked unless
// given). Every session of the operator ends with the change, this one too: whoever knew the
// old password must sign in again, and so must they, with the new one.
async function changePassword(ctx, current) {
  const currentPassword = current ?? (await ctx.ask("current password:", { secret: true }));
  const newPassword = await ctx.ask("new password:", { secret: true });
  if ((await ctx.ask("new password again:", { secret: true })) !== newPassword) {
    throw new Error("the two new passwords differ; nothing was changed");
  }
  await ctx.api.post("/api/v1/auth/password", { current_password: currentPassword, new_password: newPassword });
  ctx.api.forget();
  ctx.leave();
  ctx.ok("password changed; every session of yours has ended: log in again with the new one");
}

// A payment entry's Idempotency-Key: a random (version 4) UUID made from getRandomValues, as
// crypto.randomUUID exists only in secure contexts (not over plain http to an address).
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const groups = [[0, 8], [8, 12], [12, 16], [16, 20], [20, 32]];
  return groups.map(([from, to]) => hex.slice(from, to)).join("-");
}

// Whether a POST that failed may still have created the payment: no answer came (network,
// timeout, Esc), the gateway failed (5xx), or its answer to a success could not be read.
function mayExist(error) {
  if (error instanceof Unanswered) return true;
  return error instanceof ApiError && (error.status >= 500 || error.status < 300);
}

async function askPayment(ctx) {
  const ask = (q) => ctx.ask(q);
  const optional = async (q) => (await ask(q)).trim() || undefined;
  return {
    amount: (await ask("amount:")).trim(),
    currency: (await ask("currency:")).trim().toUpperCase(),
    value_date: await optional(`value date [${today()}]:`),
    debtor: { name: (await ask("debtor name:")).trim(), account: (await ask("debtor account:")).trim() },
    creditor: {
      name: (await ask("creditor name:")).trim(),
      account: (await ask("creditor account:")).trim(),
      agent_bic: (await ask("creditor agent BIC:")).trim().toUpperCase(),
    },
    end_to_end_id: await optional("end-to-end id (optional):"),
    remittance_info: await optional("remittance info (optional):"),
  };
}

// Whether to send the unconfirmed entry again. Declined, it is dropped: the operator has
// found out what became of it.
async function sendAgain(ctx) {
  const { amount, currency, debtor, creditor } = ctx.unconfirmed.body;
  ctx.info(`unconfirmed entry: ${amount} ${currency} from ${debtor.name} to ${creditor.name}`);
  const answer = (await ctx.ask("send that entry again, with the same key? [Y/n]:")).trim().toLowerCase();
  if (!["", "y", "yes", "n", "no"].includes(answer)) throw new UsageError("answer y or n");
  if (answer.startsWith("n")) ctx.unconfirmed = null;
  return ctx.unconfirmed !== null;
}

// One key per entry: sent again with it, an entry cannot create a second payment. An entry
// whose POST may or may not have created the payment is kept with its key, and the next
// `pay new` offers to send it again (the gateway then answers with the payment the first
// attempt created, if it did) before asking for a new one.
async function payNew(ctx) {
  const again = ctx.unconfirmed !== null && (await sendAgain(ctx));
  const entry = again ? ctx.unconfirmed : { body: await askPayment(ctx), key: idempotencyKey() };
  let answer;
  try {
    answer = await ctx.api.exchange("POST", PAYMENTS, {
      body: entry.body,
      headers: { "Idempotency-Key": entry.key },
    });
  } catch (error) {
    ctx.unconfirmed = mayExist(error) ? entry : null;
    ctx.report(error);
    if (ctx.unconfirmed) {
      ctx.info("unconfirmed: the payment may or may not exist; pay new offers to send this entry again");
    }
    return;
  }
  ctx.unconfirmed = null;
  const p = answer.data;
  // Sent again, an entry the first attempt did create comes back as that payment.
  const first = answer.headers.get("Idempotent-Replayed") === "true";
  const what = `${p.reference || p.id}: ${p.amount} ${p.currency} ${p.status}`;
  ctx.ok(first ? `already created ${what} (by the first attempt; not entered twice)` : `created ${what}`);
  ctx.watcher.track(p);
}

// A list as `more` continues it: `path` and `query` (its filters and `limit`), the `columns`
// of its table, the `noun` its lines count, `narrow` (how to see fewer rows; none once
// narrowed), `follow` (whether its rows are followed live), and how far it has gone: `shown`
// rows, and the `cursor` of the next page (null after the last).

// A list's first page. The list before it is forgotten first, whatever becomes of this one:
// `more` must not go on with a list other than the one the operator asked for last.
async function listPage(ctx, { query, ...list }) {
  ctx.lastList = null;
  await showPage(ctx, { ...list, query: { limit: LIST_LIMIT, ...query }, shown: 0, cursor: null });
}

// The next page of the last list shown. The API's cursor is only a position (paging.py): the
// list's filters and limit go with it again, or the page would be of another list.
async function morePage(ctx) {
  const list = ctx.lastList;
  if (!list) return ctx.info("no list to continue: more follows pay list, exceptions or audit");
  if (!list.cursor) {
    return ctx.info(`nothing more: the last list has ended (${list.shown} ${list.noun} listed)`);
  }
  return showPage(ctx, list);
}

// The page of `list` at its cursor as a table, a line telling where the list stands, its rows
// followed if the list's are; the list is then remembered as far as it has gone. `items` of a
// body without them (a proxy's answer, say) are none rather than a failure.
async function showPage(ctx, list) {
  const page = await ctx.api.get(list.path, { ...list.query, cursor: list.cursor });
  const items = Array.isArray(page && page.items) ? page.items : [];
  const cursor = (page && page.next_cursor) || null;
  ctx.out(table(list.columns, items));
  const standing = listStanding(list, items.length, cursor);
  if (standing) ctx.info(standing);
  if (list.follow) ctx.watcher.trackList(items);
  ctx.lastList = { ...list, shown: list.shown + items.length, cursor };
}

// Where a list stands after a page of `count` rows: with more to come, which rows are listed
// and how to see the next (or fewer); at its end, after `more`, how many it had. A first page
// that is the whole list needs no line.
function listStanding(list, count, cursor) {
  const { noun, narrow, shown: before } = list;
  const shown = before + count;
  if (!cursor) return before ? `${shown} ${noun} listed in all: the end of the list` : null;
  const which = before ? `${before + 1} to ${shown}` : `the newest ${shown}`;
  const fewer = narrow ? `, or ${narrow}` : "";
  return `more than ${shown} ${noun}: ${which} are listed; more for the next ${list.query.limit}${fewer}`;
}

async function payList(ctx, status) {
  const narrow = status ? null : "narrow with a status: pay list STATUS (e.g. pay list HELD)";
  const query = { status: status && status.toUpperCase() };
  await listPage(ctx, {
    path: PAYMENTS,
    query,
    columns: paymentColumns,
    noun: "payments",
    narrow,
    follow: true,
  });
}

async function payShow(ctx, id) {
  const p = await ctx.api.get(paymentPath(id));
  showPayment(ctx, p);
  ctx.out("");
  ctx.out(table([{ title: "STATUS", key: "status" }, { title: "AT", key: "at" }, { title: "BY", key: "by" }], p.history || []));
  const m = p.message;
  if (m) {
    const a = m.answer;
    ctx.out("");
    ctx.out(
      keyValues([
        ["message", m.msg_id],
        ["attempts", m.attempts],
        ["answer", a ? `${a.kind} ${a.status || ""} ${a.reason_code || ""} at ${a.received_at}` : "none yet"],
      ]),
    );
  }
}

// The states `exceptions` takes, and the API's `state` for each (all: none).
const EXCEPTION_STATES = { open: "OPEN", resolved: "RESOLVED", all: undefined };
const EXCEPTIONS_USAGE = "exceptions [open|resolved|all] [KIND]";

// `exceptions`' arguments: a state word first (open if none), then a kind.
function exceptionQuery(args) {
  const words = [...args];
  const first = (words[0] || "").toLowerCase();
  const which = Object.hasOwn(EXCEPTION_STATES, first) ? (words.shift(), first) : "open";
  if (words.length > 1) throw new UsageError(EXCEPTIONS_USAGE);
  return { which, state: EXCEPTION_STATES[which], kind: words[0] && words[0].toUpperCase() };
}

// Open items by default: they are the work to do, and resolved ones would bury them.
async function listExceptions(ctx, args) {
  const { which, state, kind } = exceptionQuery(args);
  const narrow = kind
    ? null
    : `narrow with a kind: exceptions ${which} KIND (e.g. exceptions ${which} ACK_MISSING)`;
  const columns = [
    { title: "ID", key: "id" },
    { title: "KIND", key: "kind" },
    { title: "STATE", key: "state" },
    { title: "PAYMENT", key: "payment_id" },
    { title: "MSG ID", key: "msg_id" },
    { title: "OPENED", key: "opened_at" },
    { title: "DETAIL", key: "detail" },
    { title: "NOTE", key: "note" },
  ];
  const query = { state, kind };
  await listPage(ctx, { path: "/api/v1/exceptions", query, columns, noun: "exceptions", narrow });
}

// What each answer to "action" sends: nothing but the note, one more transmission, or the
// receiver's word recorded as the payment's answer.
const RESOLUTIONS = ["note", "resend", "mark_settled"];

async function resolveException(ctx, id) {
  const action = (await ctx.ask(`action (${RESOLUTIONS.join(", ")}) [note]:`)).trim() || "note";
  if (!RESOLUTIONS.includes(action)) throw new UsageError(`action must be one of ${RESOLUTIONS.join(", ")}`);
  const body = {};
  if (action !== "note") body.action = action;
  if (action === "mark_settled") {
    body.outcome = (await ctx.ask("the receiver's answer (ACK or NACK):")).trim().toUpperCase();
    body.confirmation = (await ctx.ask("the receiver's reference for it:")).trim();
    if (body.outcome === "NACK") body.reason_code = (await ctx.ask("its reason code:")).trim();
  }
  body.note = (await ctx.ask("note (what was done, and why):")).trim();
  const item = await ctx.api.post(`/api/v1/exceptions/${encodeURIComponent(id)}/resolve`, body);
  ctx.ok(`exception ${item.id} ${item.kind} ${item.state} by ${item.resolved_by}`);
}

async function reconDaily(ctx, date) {
  const r = await ctx.api.get(`${PAYMENTS}/reconciliation/daily`, { date });
  ctx.out(keyValues([["date", r.date], ["payments", r.totals.payments], ["matched", r.totals.matched], ["unmatched", r.totals.unmatched]]));
  ctx.out("");
  ctx.out(
    table(
      [
        { title: "CCY", key: "currency" },
        { title: "PAYMENTS", key: "payments", right: true },
        { title: "AMOUNT", key: "amount", right: true },
        { title: "MATCHED", key: "matched", right: true },
        { title: "UNMATCHED", key: "unmatched", right: true },
      ],
      r.by_currency || [],
    ),
  );
  ctx.out("");
  printUnmatched(ctx, r.unmatched || []);
}

function printUnmatched(ctx, items) {
  ctx.out(
    table(
      [
        { title: "PAYMENT", key: "payment_id" },
        { title: "MSG ID", key: "msg_id" },
        { title: "CATEGORY", key: "category" },
        { title: "SINCE", key: "since" },
        { title: "DETAIL", key: "detail" },
      ],
      items,
    ),
  );
}

export function findCommand(name) {
  return COMMANDS.find((c) => c.name === name);
}

export function splitLine(line) {
  return line.trim().split(/\s+/).filter(Boolean);
}

// The line after its first `count` words (the command's name among them), as typed: a reason
// is recorded with the spacing the operator gave it, but for tabs (pasted from a ticket or a
// spreadsheet), which the gateway refuses as control characters: each is a space.
function wordsAfter(line, count) {
  return line.trim().replace(new RegExp(`^(?:\\S+\\s+){${count}}`), "").replaceAll("\t", " ");
}
