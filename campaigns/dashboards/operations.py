"""Reading the numbers: signatures per day, by country, by source; for dashboards and the
public country page. Every query groups on an indexed column of one campaign's rows."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import case, func, select

from campaigns.core.db import db, utcnow
from campaigns.paper.models import PaperBatch
from campaigns.petitions.models import Campaign
from campaigns.signatures.models import COUNTED_STATES, Signature, SignatureState
from campaigns.supporters.models import Supporter

#: under a risk flag, countries with fewer signatures than this are shown as "other countries"
SMALL_COUNTRY_THRESHOLD = 5
#: days shown in the charts
CHART_DAYS = 30
#: at most this old, a cached breakdown whose campaign's counts did not change
BREAKDOWN_CACHE_SECONDS = 300


def _as_date(value: object) -> date:
    """func.date() gives a date on PostgreSQL and an ISO string on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))


@dataclass(frozen=True)
class CountryRow:
    country: str
    online: int
    paper: int

    @property
    def total(self) -> int:
        return self.online + self.paper


@dataclass
class CountryBreakdown:
    rows: list[CountryRow] = field(default_factory=list)
    #: signatures from countries too small to name (risk flag), and paper without a country
    other: int = 0
    not_recorded: int = 0

    @property
    def total(self) -> int:
        return sum(r.total for r in self.rows) + self.other + self.not_recorded


def online_by_country(campaign_id: int) -> dict[str, int]:
    """Confirmed signatures per signer's country (walks the campaign/state index)."""
    return dict(db.session.execute(
        select(Supporter.country, func.count())
        .select_from(Signature).join(Signature.supporter)
        .where(Signature.campaign_id == campaign_id, Signature.state.in_(COUNTED_STATES))
        .group_by(Supporter.country)
    ).all())


def paper_by_country(campaign_id: int) -> dict[str | None, int]:
    return dict(db.session.execute(
        select(PaperBatch.country, func.sum(PaperBatch.count))
        .where(PaperBatch.campaign_id == campaign_id)
        .group_by(PaperBatch.country)
    ).all())


@lru_cache(maxsize=512)
def _cached_breakdown(campaign_key: tuple, signature_count: int, offline_count: int,
                      small_to_other: bool, period: int) -> CountryBreakdown:
    # The key holds the campaign's counts: when the background flush changes them the
    # next reader recomputes, and until then every reader gets the same answer without
    # a query. ``period`` bounds staleness when the mix changes but not the total (an
    # erasure and a new signature in the same flush). The campaign's creation time is in
    # the key because ids can come back on a SQLite database that was emptied.
    return compute_breakdown(campaign_key[0], small_to_other)


def compute_breakdown(campaign_id: int, small_to_other: bool) -> CountryBreakdown:
    online = online_by_country(campaign_id)
    paper = paper_by_country(campaign_id)
    breakdown = CountryBreakdown(not_recorded=int(paper.pop(None, 0) or 0))
    for country in sorted(set(online) | set(paper)):
        row = CountryRow(country, online.get(country, 0), int(paper.get(country, 0) or 0))
        if small_to_other and row.total < SMALL_COUNTRY_THRESHOLD:
            breakdown.other += row.total
        else:
            breakdown.rows.append(row)
    breakdown.rows.sort(key=lambda r: (-r.total, r.country))
    return breakdown


def country_breakdown(campaign: Campaign, public: bool = True) -> CountryBreakdown:
    """Signatures by country. In public, under a risk flag, small countries are merged:
    a count of 2 from the factory's own town could point at the workers who signed."""
    return _cached_breakdown((campaign.id, campaign.created_at), campaign.signature_count,
                             campaign.offline_count, bool(public and campaign.risk_flag),
                             int(time.monotonic() // BREAKDOWN_CACHE_SECONDS))


@dataclass(frozen=True)
class DayCount:
    day: date
    online: int
    paper: int


def signatures_per_day(campaign_id: int | None = None, days: int = CHART_DAYS,
                       today: date | None = None) -> list[DayCount]:
    """Confirmed online and paper signatures per day over the last ``days`` days."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    day = func.date(Signature.confirmed_at)
    online_query = (select(day, func.count()).where(Signature.state.in_(COUNTED_STATES),
                                                    Signature.confirmed_at >= since)
                    .group_by(day))
    paper_query = (select(PaperBatch.collected_on, func.sum(PaperBatch.count))
                   .where(PaperBatch.collected_on >= first).group_by(PaperBatch.collected_on))
    if campaign_id is not None:
        online_query = online_query.where(Signature.campaign_id == campaign_id)
        paper_query = paper_query.where(PaperBatch.campaign_id == campaign_id)
    online = {_as_date(d): n for d, n in db.session.execute(online_query).all()}
    paper = {_as_date(d): int(n) for d, n in db.session.execute(paper_query).all()}
    return [DayCount(first + timedelta(days=i), online.get(first + timedelta(days=i), 0),
                     paper.get(first + timedelta(days=i), 0)) for i in range(days)]


@dataclass(frozen=True)
class CampaignNumbers:
    confirmed: int
    pending: int
    paper: int

    @property
    def started(self) -> int:
        return self.confirmed + self.pending

    @property
    def confirmation_rate(self) -> float | None:
        """Share of online signatures whose signer followed the emailed link."""
        return self.confirmed / self.started if self.started else None

    @property
    def public(self) -> int:
        return self.confirmed + self.paper


def campaign_numbers(campaign: Campaign) -> CampaignNumbers:
    """Exact numbers for the dashboard (a campaigner's page: an indexed COUNT is fine here)."""
    states = dict(db.session.execute(
        select(Signature.state, func.count()).where(Signature.campaign_id == campaign.id)
        .group_by(Signature.state)
    ).all())
    paper = db.session.scalar(select(func.coalesce(func.sum(PaperBatch.count), 0))
                              .where(PaperBatch.campaign_id == campaign.id))
    return CampaignNumbers(confirmed=states.get(SignatureState.CONFIRMED, 0),
                           pending=states.get(SignatureState.PENDING, 0), paper=int(paper))


@dataclass(frozen=True)
class SourceRow:
    label: str
    confirmed: int
    pending: int


def _grouped(campaign_id: int, *columns) -> list[SourceRow]:
    confirmed = func.sum(case((Signature.state.in_(COUNTED_STATES), 1), else_=0))
    rows = db.session.execute(
        select(*columns, confirmed, func.count())
        .where(Signature.campaign_id == campaign_id)
        .group_by(*columns).order_by(func.count().desc()).limit(50)
    ).all()
    return [SourceRow(" · ".join(v or "–" for v in row[:-2]), int(row[-2] or 0),
                      row[-1] - int(row[-2] or 0)) for row in rows]


def sources(campaign: Campaign) -> dict[str, list[SourceRow]]:
    """Where signers came from: utm tags (source is also the partner's name) and referrers."""
    return {
        "utm": _grouped(campaign.id, Signature.source, Signature.utm_medium,
                        Signature.utm_campaign),
        "referrer": _grouped(campaign.id, Signature.referrer_host),
    }


@dataclass(frozen=True)
class CampaignTotals:
    campaign: Campaign
    confirmed: int
    pending: int
    paper: int
    last_7_days: int


def totals_across_campaigns() -> list[CampaignTotals]:
    """One row per campaign: confirmed, pending, paper, and confirmed in the last 7 days."""
    week_ago = utcnow() - timedelta(days=7)
    by_campaign = {
        campaign_id: (confirmed, pending, recent)
        for campaign_id, confirmed, pending, recent in db.session.execute(
            select(Signature.campaign_id,
                   func.sum(case((Signature.state == SignatureState.CONFIRMED, 1), else_=0)),
                   func.sum(case((Signature.state == SignatureState.PENDING, 1), else_=0)),
                   func.sum(case((Signature.confirmed_at >= week_ago, 1), else_=0)))
            .group_by(Signature.campaign_id)
        ).all()
    }
    paper = dict(db.session.execute(
        select(PaperBatch.campaign_id, func.sum(PaperBatch.count)).group_by(PaperBatch.campaign_id)
    ).all())
    campaigns = db.session.scalars(select(Campaign).order_by(Campaign.title)).all()
    result = []
    for campaign in campaigns:
        confirmed, pending, recent = by_campaign.get(campaign.id, (0, 0, 0))
        result.append(CampaignTotals(campaign, int(confirmed or 0), int(pending or 0),
                                     int(paper.get(campaign.id) or 0), int(recent or 0)))
    return result
