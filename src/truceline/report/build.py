"""One call from a store to a finished daily report, shared by the command line and the HTTP endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from truceline.access.policy import Principal
from truceline.domain.agreement import Agreement
from truceline.ledger.checkpoint import LedgerKey
from truceline.report.audience import edition_reader
from truceline.report.daily import DailyReport, LedgerRef, gather_daily
from truceline.report.render import markdown_with_files, render
from truceline.report.sectors import default_sectors
from truceline.store.sqlite import SqliteStore
from truceline.verify.geometry import AgreementGeometry, geometry_for


class ReportError(RuntimeError):
    """The report cannot be made (no agreement in force); the message says what to do."""


@dataclass(frozen=True)
class Built:
    """A rendered edition and the facts it was rendered from."""

    report: DailyReport
    geometry: AgreementGeometry
    content: bytes
    files: dict[str, bytes] = field(default_factory=dict)  # Markdown's images: relative path → bytes


def agreement_in_force(store: SqliteStore) -> tuple[Agreement, AgreementGeometry]:
    """The agreement version in force in the store and its geometry, or ReportError."""
    document = store.current_agreement_document()
    if document is None:
        raise ReportError("no agreement is in force in this data dir: load one with `truceline serve --agreement FILE` "
                          "or PUT /api/v1/agreement (the demo loads its own)")
    agreement = Agreement.from_canonical_document(document)
    return agreement, geometry_for(agreement)


def daily_report(
    store: SqliteStore,
    key: LedgerKey,
    day: date,
    audience: str,
    fmt: str,
    caller: Principal | None = None,
    in_force: tuple[Agreement, AgreementGeometry] | None = None,
    image_folder: str | None = None,
) -> Built:
    """Gather the day for the audience (capped at ``caller``'s visibility when given) and render it.

    Markdown with an ``image_folder`` links its images as files in that folder (returned in ``files``);
    without one it is a single document whose figures say where to find them.
    """
    reader = edition_reader(audience, caller)
    agreement, geometry = in_force or agreement_in_force(store)

    def sign() -> LedgerRef:
        return LedgerRef.from_signed(store.ledger_checkpoint(key), key.verifier_key())

    report = gather_daily(store, agreement, geometry, default_sectors(), reader, day, audience, sign)
    if fmt == "md" and image_folder is not None:
        text, files = markdown_with_files(report, geometry, image_folder)
        return Built(report, geometry, text.encode(), files)
    return Built(report, geometry, render(report, geometry, fmt))
