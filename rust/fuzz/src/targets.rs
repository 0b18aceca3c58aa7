//! The fuzz targets: each takes arbitrary bytes and panics only when the wire core is wrong.
//!
//! Beyond "never panics", each checks a property the gateway relies on: any chunking of a stream
//! decodes to the same frames; whatever the readers accept is well-formed; whatever the writers
//! build reads back to the same values (after the XML whitespace trimming the readers document).

use arbitrary::{Result, Unstructured};
use wire::fuzzing::{
    build_message_reject, build_pacs008, build_status_report, parse_answer as read_answer,
    parse_pacs008_summary as read_summary, AnswerBook, Decoder, FrameError, Framing, IsoDate, Kind,
    MessageReject, Payment, Status, StatusReport, UtcDateTime, REASON_MAX_BYTES,
};

/// A fuzz target: panics when the wire core is wrong about `data`.
pub type Target = fn(&[u8]);

/// Names of the targets, as cargo-fuzz and the stable driver know them.
pub const ALL: [(&str, Target); 5] = [
    ("frame_decoder", frame_decoder),
    ("parse_answer", parse_answer),
    ("parse_pacs008_summary", parse_pacs008_summary),
    ("answer_round_trip", answer_round_trip),
    ("pacs008_round_trip", pacs008_round_trip),
];

const FRAMINGS: [Framing; 3] = [Framing::U32Be, Framing::U16Be, Framing::Ascii4];

/// The frame decoder with an arbitrary framing, limit and chunking of an arbitrary stream.
pub fn frame_decoder(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok((framing, max, cuts)) = frame_setup(&mut u) else {
        return;
    };
    let stream = u.take_rest();

    let mut whole = Decoder::new(framing, max);
    let mut frames = Vec::new();
    let once = whole.feed(stream, |f| frames.push(f.to_vec()));

    let mut chunked = Decoder::new(framing, max);
    let mut pieces = Vec::new();
    let mut rest = stream;
    let mut chunked_result = Ok(());
    for cut in cuts.iter().copied().chain([usize::MAX]) {
        let (chunk, tail) = rest.split_at(cut.min(rest.len()));
        rest = tail;
        chunked_result = chunked.feed(chunk, |f| pieces.push(f.to_vec()));
        if chunked_result.is_err() || rest.is_empty() {
            break;
        }
    }
    assert_eq!(frames, pieces, "chunking changed the frames");
    assert_eq!(once, chunked_result, "chunking changed the outcome");
    assert!(
        frames.iter().all(|f| f.len() <= max),
        "a frame over the limit"
    );

    match once {
        Ok(()) => {
            assert_eq!(whole.buffered(), chunked.buffered());
            // What was emitted, framed again, is exactly the stream up to the held-back tail.
            let mut again = Vec::new();
            for f in &frames {
                let start = again.len();
                again.resize(start + framing.framed_len(f.len()).unwrap(), 0);
                framing.encode_into(f, &mut again[start..]);
            }
            assert_eq!(again.len() + whole.buffered(), stream.len());
            assert_eq!(again, &stream[..again.len()]);
            // Held back: less than one whole frame, so memory is bounded by the limit.
            assert!(whole.buffered() < framing.header_len() + max.max(1) || max == 0);
        }
        Err(_) => assert_eq!(
            whole.feed(b"\0\0\0\0", |_| {}),
            Err(FrameError::Poisoned),
            "a decoder must refuse input after an error"
        ),
    }
}

fn frame_setup(u: &mut Unstructured<'_>) -> Result<(Framing, usize, Vec<usize>)> {
    let framing = *u.choose(&FRAMINGS)?;
    // Small limits reach the oversize path; the largest stay within one fuzz input.
    let max = usize::from(u.int_in_range(0u16..=20_000)?);
    let cuts = (0..u.int_in_range(0u8..=12)?)
        .map(|_| u.int_in_range(0usize..=64))
        .collect::<Result<_>>()?;
    Ok((framing, max, cuts))
}

/// `parse_answer` on arbitrary bytes: refuses or returns a consistent answer, naming a MsgId
/// paywire could have sent (`Max35Text`) and a UETR in the form paywire compares (lower case).
pub fn parse_answer(data: &[u8]) {
    let Ok(answer) = read_answer(data) else {
        return;
    };
    assert!(
        (1..=35).contains(&answer.msg_id.chars().count()),
        "an answer naming no message paywire could have sent"
    );
    assert!(!answer.msg_id.chars().any(char::is_control));
    assert_eq!(answer.msg_id.trim_matches(is_xml_space), answer.msg_id);
    if let Some(uetr) = &answer.uetr {
        assert!(is_lower_case_uetr(uetr), "UETR {uetr:?} not in lower case");
    }
    assert_eq!(answer.kind, answer.status.kind());
    for value in [&answer.uetr, &answer.reason_code, &answer.reason_text]
        .into_iter()
        .flatten()
    {
        assert!(!value.is_empty(), "an empty optional value is None");
    }
}

/// `parse_pacs008_summary` on arbitrary bytes: whatever it accepts has the checked shapes, and
/// the receiver's answer book accepts it with a pacs.002 the gateway reads back to its ids.
pub fn parse_pacs008_summary(data: &[u8]) {
    let mut book = AnswerBook::new("PWR", 4).unwrap();
    let mut out = Vec::new();
    // Any instant will do; with no data to draw from, `instant` gives the earliest.
    let now = instant(&mut Unstructured::new(&[])).unwrap();
    let accepted = book.accept(data, now, Framing::U32Be, &mut out);
    let Ok(s) = read_summary(data) else {
        assert!(accepted.is_err() && out.is_empty());
        return;
    };
    assert!((1..=35).contains(&s.msg_id.chars().count()));
    assert!((1..=35).contains(&s.end_to_end_id.chars().count()));
    assert_eq!(s.uetr.len(), 36);
    assert!(s.currency.len() == 3 && s.currency.bytes().all(|b| b.is_ascii_uppercase()));
    assert!(matches!(s.creditor_agent_bic.len(), 8 | 11));
    assert!(s.amount.bytes().all(|b| b.is_ascii_digit() || b == b'.'));

    accepted.unwrap();
    let answer = read_answer(&out[4..]).unwrap();
    assert_eq!(answer.msg_id, s.msg_id);
    assert_eq!(answer.uetr.as_deref(), Some(&*s.uetr));
    assert_eq!(answer.status, Status::Acsp);
}

const STATUSES: [&str; 8] = [
    "RJCT", "ACTC", "ACCP", "ACSP", "ACSC", "ACWC", "PDNG", "ACSP ",
];

/// A status report or message reject built from arbitrary fields reads back to those fields.
pub fn answer_round_trip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let _ = if u.arbitrary::<bool>().unwrap_or(false) {
        reject_round_trip(&mut u)
    } else {
        report_round_trip(&mut u)
    };
}

fn report_round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let msg_id = text(u, 35)?;
    let original_msg_id = text(u, 35)?;
    let original_uetr = if u.arbitrary()? { Some(uetr(u)?) } else { None };
    let status = if u.arbitrary()? {
        (*u.choose(&STATUSES)?).to_owned()
    } else {
        text(u, 4)?
    };
    let reason_code = optional_text(u, 35)?;
    let reason_text = optional_text(u, 105)?;
    let report = StatusReport {
        msg_id: &msg_id,
        created_at: instant(u)?,
        original_msg_id: &original_msg_id,
        original_uetr: original_uetr.as_deref(),
        status: &status,
        reason_code: reason_code.as_deref(),
        reason_text: reason_text.as_deref(),
    };
    let Ok(document) = build_status_report(&report) else {
        return Ok(());
    };
    let read = read_answer(&document);
    let known = Status::parse(&status);
    if known.is_none() || trimmed(&original_msg_id).is_empty() {
        assert!(read.is_err(), "read back {read:?} from {report:?}");
        return Ok(());
    }
    let answer = read.unwrap_or_else(|e| panic!("{report:?} did not read back: {e}"));
    assert_eq!(answer.msg_id, trimmed(&original_msg_id));
    assert_eq!(Some(answer.status), known);
    assert_eq!(answer.uetr.as_deref(), original_uetr.as_deref());
    if let Some(uetr) = &original_uetr {
        // A receiver writing the UETR in upper case names the same payment (RFC 9562); the
        // writer only makes lower case, so the document is changed after the fact.
        let shouted = String::from_utf8(document.clone()).unwrap().replace(
            &format!("<OrgnlUETR>{uetr}<"),
            &format!("<OrgnlUETR>{}<", uetr.to_ascii_uppercase()),
        );
        let again = read_answer(shouted.as_bytes())
            .unwrap_or_else(|e| panic!("{shouted:?} did not read back: {e}"));
        assert_eq!(again.uetr.as_deref(), Some(uetr.as_str()));
    }
    assert_eq!(
        answer.reason_code.as_deref(),
        as_read(reason_code.as_deref())
    );
    assert_eq!(
        answer.reason_text.as_deref(),
        as_read(reason_text.as_deref())
    );
    Ok(())
}

fn reject_round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let related_ref = text(u, 35)?;
    let reason_code = text(u, 35)?;
    let reason_text = optional_text(u, 350)?;
    let reject = MessageReject {
        related_ref: &related_ref,
        created_at: instant(u)?,
        reason_code: &reason_code,
        reason_text: reason_text.as_deref(),
    };
    let Ok(document) = build_message_reject(&reject) else {
        return Ok(());
    };
    let read = read_answer(&document);
    if trimmed(&related_ref).is_empty() {
        assert!(read.is_err(), "read back {read:?} from {reject:?}");
        return Ok(());
    }
    let answer = read.unwrap_or_else(|e| panic!("{reject:?} did not read back: {e}"));
    assert_eq!(answer.kind, Kind::Nack);
    assert_eq!(answer.msg_id, trimmed(&related_ref));
    assert_eq!(answer.reason_code.as_deref(), as_read(Some(&reason_code)));
    assert_eq!(
        answer.reason_text.as_deref(),
        as_read(reason_text.as_deref())
    );
    Ok(())
}

/// A reason as the reader hands it over: trimmed, none when blank, cut to `REASON_MAX_BYTES`
/// at a character boundary.
fn as_read(value: Option<&str>) -> Option<&str> {
    non_blank(value).map(|text| {
        let mut end = text.len().min(REASON_MAX_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    })
}

/// Currencies with each count of minor digits, and one that ISO 4217 no longer has.
const CURRENCIES: [(&str, u8); 5] = [("EUR", 2), ("JPY", 0), ("BHD", 3), ("CLF", 4), ("HRK", 2)];
const BICS: [&str; 3] = ["BNPAFRPPXXX", "PAYWDEFF", "RCVRGB2LXXX"];
const ACCOUNTS: [&str; 3] = [
    "DE89370400440532013000",
    "FR1420041010050500013M02606",
    "12345678",
];

/// A pacs.008 built from arbitrary payment fields summarises back to those fields.
pub fn pacs008_round_trip(data: &[u8]) {
    let _ = pacs008_round_trip_inner(&mut Unstructured::new(data));
}

fn pacs008_round_trip_inner(u: &mut Unstructured<'_>) -> Result<()> {
    let msg_id = text(u, 35)?;
    let instr_id = text(u, 35)?;
    let end_to_end_id = text(u, 35)?;
    let uetr = uetr(u)?;
    let (currency, minor) = *u.choose(&CURRENCIES)?;
    let amount = amount(u, minor)?;
    let instructing_bic = pick_or_text(u, &BICS, 12)?;
    let creditor_agent_bic = pick_or_text(u, &BICS, 12)?;
    let debtor_name = text(u, 140)?;
    let creditor_name = text(u, 140)?;
    let debtor_account = pick_or_text(u, &ACCOUNTS, 36)?;
    let creditor_account = pick_or_text(u, &ACCOUNTS, 36)?;
    let remittance_info = optional_text(u, 140)?;
    let payment = Payment {
        msg_id: &msg_id,
        created_at: instant(u)?,
        instr_id: &instr_id,
        end_to_end_id: &end_to_end_id,
        uetr: &uetr,
        amount: &amount,
        currency,
        value_date: instant(u)?.date,
        instructing_bic: &instructing_bic,
        instructed_bic: BICS[2],
        debtor_name: &debtor_name,
        debtor_account: &debtor_account,
        debtor_agent_bic: &instructing_bic,
        creditor_name: &creditor_name,
        creditor_account: &creditor_account,
        creditor_agent_bic: &creditor_agent_bic,
        remittance_info: remittance_info.as_deref(),
    };
    let Ok(document) = build_pacs008(&payment) else {
        return Ok(());
    };
    let read = read_summary(&document);
    if trimmed(&msg_id).is_empty() || trimmed(&end_to_end_id).is_empty() {
        // Valid for the schema, but no MsgId to answer to: the receiver refuses it.
        assert!(read.is_err(), "summarised {read:?} from {payment:?}");
        return Ok(());
    }
    let summary = read.unwrap_or_else(|e| panic!("{payment:?} did not summarise: {e}"));
    assert_eq!(summary.msg_id, trimmed(&msg_id));
    assert_eq!(summary.end_to_end_id, trimmed(&end_to_end_id));
    assert_eq!(summary.uetr, uetr);
    assert_eq!(summary.currency, currency);
    assert_eq!(summary.creditor_agent_bic, creditor_agent_bic);
    if let (Some(sent), Some(read)) = (decimal(&amount), decimal(&summary.amount)) {
        assert_eq!(
            sent, read,
            "amount {amount:?} read back as {:?}",
            summary.amount
        );
    }
    Ok(())
}

// -- generators ----------------------------------------------------------------------------

/// Text the schema allows that the writer must escape or copy with care.
const FRAGMENTS: [&str; 12] = [
    "&",
    "<",
    ">",
    "\"",
    "'",
    "&amp;",
    "]]>",
    " ",
    "\u{e9}",
    "\u{20ac}",
    "\u{1f600}",
    "<MsgId>",
];
/// Text the checks must refuse (or, for spaces, the readers trim).
const HOSTILE: [&str; 6] = ["\u{85}", "\u{fffe}", "\t", "\r\n", "\0", "\u{7f}"];

/// Mostly valid text of up to `limit` characters, escapable characters included; one in sixteen
/// runs over the limit or carries characters no field may hold.
fn text(u: &mut Unstructured<'_>, limit: usize) -> Result<String> {
    let hostile = rarely(u, 16)?;
    let len = if hostile {
        u.int_in_range(0..=limit + 4)?
    } else {
        u.int_in_range(1..=limit)?
    };
    let mut out = String::new();
    while out.chars().count() < len {
        match u.int_in_range(0u8..=19)? {
            0 if hostile => out.push(u.arbitrary::<char>()?),
            1 if hostile => out.push_str(u.choose(&HOSTILE)?),
            2..=4 => out.push_str(u.choose(&FRAGMENTS)?),
            _ => out.push(char::from(u.int_in_range(0x20u8..=0x7e)?)),
        }
        if u.is_empty() {
            break;
        }
    }
    Ok(out)
}

/// True once in `n` draws, and never once the input is used up (where `ratio` says yes), so
/// that short inputs make plain values rather than broken ones.
fn rarely(u: &mut Unstructured<'_>, n: u8) -> Result<bool> {
    Ok(u.int_in_range(1..=n)? == n)
}

fn optional_text(u: &mut Unstructured<'_>, max: usize) -> Result<Option<String>> {
    Ok(if u.arbitrary()? {
        Some(text(u, max)?)
    } else {
        None
    })
}

fn pick_or_text(u: &mut Unstructured<'_>, choices: &[&str], max: usize) -> Result<String> {
    if !rarely(u, 8)? {
        Ok((*u.choose(choices)?).to_owned())
    } else {
        text(u, max)
    }
}

/// A version-4 UUID in lower case, as paywire makes them (or, rarely, anything).
fn uetr(u: &mut Unstructured<'_>) -> Result<String> {
    if rarely(u, 16)? {
        return text(u, 36);
    }
    let mut bytes: [u8; 16] = u.arbitrary()?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// An amount as operators enter it: mostly with the currency's minor digits or fewer, sometimes
/// with an exponent, more digits than allowed, or not a number at all.
fn amount(u: &mut Unstructured<'_>, minor: u8) -> Result<String> {
    let units = u.int_in_range(1u64..=10u64.pow(15))?;
    Ok(match u.int_in_range(0u8..=15)? {
        15 => text(u, 24)?,
        14 => format!("{units}e{}", u.int_in_range(-6i8..=6)?),
        13 => format!("{units}.{:03}", u.int_in_range(0u16..=999)?),
        _ => {
            let shown = u.int_in_range(0..=minor)?;
            let digits = units.to_string();
            let split = digits.len().saturating_sub(usize::from(shown));
            match (&digits[..split], &digits[split..]) {
                (_, "") => digits.clone(),
                ("", frac) => format!("0.{frac:0>width$}", width = usize::from(shown)),
                (int, frac) => format!("{int}.{frac}"),
            }
        }
    })
}

fn instant(u: &mut Unstructured<'_>) -> Result<UtcDateTime> {
    Ok(UtcDateTime {
        date: IsoDate {
            year: u.int_in_range(1..=9999)?,
            month: u.int_in_range(1..=12)?,
            day: u.int_in_range(1..=28)?,
        },
        hour: u.int_in_range(0..=23)?,
        minute: u.int_in_range(0..=59)?,
        second: u.int_in_range(0..=59)?,
        microsecond: u.int_in_range(0..=999_999)?,
    })
}

// -- comparisons ---------------------------------------------------------------------------

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// `UUIDv4Identifier` as the schema spells it: lower-case hex only.
fn is_lower_case_uetr(value: &str) -> bool {
    let groups: Vec<&str> = value.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
        && groups[2].starts_with('4')
        && groups[3].starts_with(['8', '9', 'a', 'b'])
}

/// What a reader hands over for a written text: XML whitespace trimmed at both ends.
fn trimmed(value: &str) -> &str {
    value.trim_matches(is_xml_space)
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(trimmed).filter(|v| !v.is_empty())
}

/// A plain or exponent decimal as (significant digits, power of ten), for comparing values
/// written differently ("1.5e2" and "150.00"); None for anything else.
fn decimal(value: &str) -> Option<(String, i64)> {
    let (mantissa, exponent) = match value.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().ok()?),
        None => (value, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty()
        || !(int_part.chars().chain(frac_part.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    let power = exponent - i64::try_from(frac_part.len()).ok()?;
    let significant = digits.trim_start_matches('0');
    let kept = significant.trim_end_matches('0');
    if kept.is_empty() {
        return Some((String::new(), 0));
    }
    let dropped = i64::try_from(significant.len() - kept.len()).ok()?;
    Some((kept.to_owned(), power + dropped))
}
