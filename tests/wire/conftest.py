"""Fixtures for the wire tests: the official XSDs and sample documents in `tests/data/iso20022`."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

DATA = Path(__file__).resolve().parent.parent / "data" / "iso20022"

PACS008_NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
PACS002_NS = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"
ADMI002_NS = "urn:iso:std:iso:20022:tech:xsd:admi.002.001.01"


def sample(name: str) -> bytes:
    return (DATA / name).read_bytes()


class Schemas:
    """The three message schemas, compiled once per test session."""

    def __init__(self) -> None:
        self.pacs008 = etree.XMLSchema(etree.parse(str(DATA / "pacs.008.001.08.xsd")))
        self.pacs002 = etree.XMLSchema(etree.parse(str(DATA / "pacs.002.001.10.xsd")))
        self.admi002 = etree.XMLSchema(etree.parse(str(DATA / "admi.002.001.01.xsd")))


def assert_valid(schema: etree.XMLSchema, document: bytes) -> etree._Element:
    """Parses `document` and fails with the schema's own error log if it is not valid."""
    root = etree.fromstring(document)
    if not schema.validate(root):
        pytest.fail(f"{schema.error_log}\n{document.decode()}")
    return root


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    return Schemas()
