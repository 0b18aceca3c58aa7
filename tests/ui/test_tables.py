"""Tables as the checker reads them: each value under its own column whatever its characters
(combining marks, right-to-left names), and a reason recorded as it was typed."""

from __future__ import annotations

from paywire.api import create_app
from tests.fixtures.browser import TerminalPage, signed_in
from tests.fixtures.world import ACME, GLOBEX, World

# The pixel span [left, right] where `text` is drawn on output line `n` (looked for in each of
# the line's text nodes: a table's cells are boxes of their own).
SPAN_OF = """([n, text]) => {
  const line = document.querySelectorAll('#output .line')[n];
  const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const at = node.data.indexOf(text);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + text.length);
    const box = range.getBoundingClientRect();
    return [box.left, box.right];
  }
  return null;
}"""

# "Nguyễn Thị Hà" as macOS keyboards and many exports write it: letters followed by combining
# marks, which take no column on screen.
DECOMPOSED = "Nguye\u0302\u0303n Thi\u0323 Ha\u0300"
# Two Hebrew company names: side by side in one line of text, the bidirectional algorithm
# makes them one right-to-left run, drawing the second first.
HEBREW_DEBTOR = "\u05d0\u05dc\u05e3 \u05d1\u05e2\u05de"
HEBREW_CREDITOR = "\u05d1\u05d9\u05ea \u05d1\u05e2\u05de"


async def span(term: TerminalPage, starting: str, text: str) -> tuple[float, float]:
    """Where `text` is drawn on the output line starting with `starting`."""
    lines = await term.lines()
    n = next(i for i, line in enumerate(lines) if line.startswith(starting))
    found = await term.page.evaluate(SPAN_OF, [n, text])
    assert found is not None, f"{text!r} not on line {lines[n]!r}"
    return found[0], found[1]


async def pay_list(browser, serve, settings, db_pool, world: World) -> TerminalPage:
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "checker")
    await term.enter("pay list")
    await term.wait_for_text("REFERENCE")
    return term


async def test_a_name_with_combining_marks_keeps_the_columns_after_it_in_line(
    browser, serve, settings, db_pool, world: World
) -> None:
    marked = await world.create(debtor={"name": DECOMPOSED, "account": ACME})
    plain = await world.create(debtor={"name": "Nguyen Thi Ha", "account": ACME})
    term = await pay_list(browser, serve, settings, db_pool, world)
    creditor_column, _ = await span(term, "REFERENCE", "CREDITOR")
    plain_at, _ = await span(term, plain.reference, "Globex SA")
    marked_at, _ = await span(term, marked.reference, "Globex SA")
    await term.page.context.close()
    assert abs(plain_at - creditor_column) < 0.5
    assert abs(marked_at - creditor_column) < 0.5, (marked_at, creditor_column)


async def test_right_to_left_names_side_by_side_stay_under_their_own_columns(
    browser, serve, settings, db_pool, world: World
) -> None:
    payment = await world.create(
        debtor={"name": HEBREW_DEBTOR, "account": ACME},
        creditor={"name": HEBREW_CREDITOR, "account": GLOBEX, "agent_bic": "BNPAFRPPXXX"},
    )
    term = await pay_list(browser, serve, settings, db_pool, world)
    debtor_column, _ = await span(term, "REFERENCE", "DEBTOR")
    creditor_column, _ = await span(term, "REFERENCE", "CREDITOR")
    debtor = await span(term, payment.reference, HEBREW_DEBTOR)
    creditor = await span(term, payment.reference, HEBREW_CREDITOR)
    lines = await term.lines()
    await term.page.context.close()
    assert debtor_column <= debtor[0], (debtor, debtor_column)
    assert debtor[1] <= creditor_column, (debtor, creditor_column)
    assert creditor_column <= creditor[0], (creditor, creditor_column)
    # The text of the row (what a copy gives) is still the padded line, debtor first.
    row = next(line for line in lines if line.startswith(payment.reference))
    assert row.index(HEBREW_DEBTOR) < row.index(HEBREW_CREDITOR)


async def test_reject_records_the_rest_of_the_line_as_typed(
    browser, serve, settings, db_pool, world: World
) -> None:
    payment = await world.create()
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "checker")
    # A tab pasted from a ticket is a control character the gateway refuses: it goes as a space.
    typed = "IBAN  DE89 3704   closed;\tsee ticket  4711"
    await term.enter(f"reject {payment.reference} {typed}")
    await term.wait_for_text(f"{payment.reference} rejected: REJECTED")
    await term.page.context.close()
    stored = await db_pool.fetchval("SELECT reason_text FROM payments WHERE id = $1", payment.id)
    assert stored == "IBAN  DE89 3704   closed; see ticket  4711"


async def test_pay_show_draws_a_right_to_left_name_and_an_account_of_digits_each_in_place(
    browser, serve, settings, db_pool, world: World
) -> None:
    """A Hebrew creditor name followed by an account of digits (another id, not an IBAN) on one
    line was one right-to-left run: the account was drawn first, where the name belongs. Each
    value starts where the block's values start."""
    account = "12345678"
    payment = await world.create(
        creditor={"name": HEBREW_CREDITOR, "account": account, "agent_bic": "BNPAFRPPXXX"}
    )
    client = await serve(create_app(settings, db_pool))
    term, _ = await signed_in(browser, str(client.make_url("/")), "checker")
    await term.enter(f"pay show {payment.reference}")
    await term.wait_for_text(account)
    reference_at, _ = await span(term, "reference ", payment.reference)
    lines = await term.lines()
    name_line = next(line for line in lines if HEBREW_CREDITOR in line)
    account_line = next(line for line in lines if account in line)
    name_at, _ = await span(term, name_line, HEBREW_CREDITOR)
    account_at, _ = await span(term, account_line, account)
    await term.page.context.close()
    assert abs(name_at - reference_at) < 0.5, (name_at, reference_at)
    assert abs(account_at - reference_at) < 0.5, (account_at, reference_at)
