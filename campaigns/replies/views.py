"""Replies: the public tracker and register, the inbound mail endpoint, the workspace."""
from __future__ import annotations

import hmac

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wtforms.fields.choices import SelectChoice

from campaigns.accounts.policy import Role, can_manage_campaign, require_role
from campaigns.admin.views import add_menu_item, never_cache
from campaigns.core.db import db, utcnow
from campaigns.core.extensions import csrf
from campaigns.core.security import public_page
from campaigns.petitions.models import Campaign, CampaignTarget
from campaigns.replies import charts, operations, stats
from campaigns.replies.forms import (
    GRADE_CHOICES,
    AssignForm,
    DeadlineForm,
    DemandsForm,
    DiscardForm,
    LogReplyForm,
    NoteForm,
    ReviewForm,
    StatusForm,
    VerifyForm,
)
from campaigns.replies.models import (
    TRANSITIONS,
    Commitment,
    Grade,
    InboundMessage,
    InboundState,
    Reply,
    ReplyAttachment,
    ReplyChannel,
    ReplyThread,
    ThreadStatus,
)

bp = Blueprint("replies", __name__)
admin = Blueprint("replies_admin", __name__)
inbound_bp = Blueprint("inbound", __name__)
add_menu_item("replies_admin.overview", _l("Replies"), Role.VIEWER)


# --- public --------------------------------------------------------------------------------

@bp.app_context_processor
def reply_helpers():
    def status_label(value: str | None) -> str:
        try:
            return ThreadStatus(value).label
        except ValueError:
            return ""

    return {"reply_thread_of": operations.public_thread_of,
            "latest_published_reply": operations.latest_published_reply,
            "status_label": status_label}


@bp.get("/companies")
@public_page
def tracker():
    sort = request.args.get("sort", "name")
    sort = sort if sort in stats.SORT_KEYS else "name"
    descending = request.args.get("dir") == "desc"
    records = stats.sorted_records(stats.tracker(), sort, descending)
    total = stats.totals(records)
    chart = charts.reply_rate_chart(
        records, _("Reply rate by company"),
        _("Share of campaigns each company has answered publicly, highest first."))
    return render_template("replies/tracker.html", records=records, total=total, sort=sort,
                           descending=descending, chart=chart)


@bp.get("/companies.csv")
@public_page
def tracker_csv():
    """The tracker's figures as open data (spreadsheet formulas neutralised)."""
    import csv
    import io

    from flask import Response

    from campaigns.core.urls import external_url
    from campaigns.exports.operations import neutralise

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["company", "page", "campaigns_received", "replied", "reply_rate",
                     "median_days_to_first_reply", "overdue_now", "commitments_made",
                     "commitments_verified"])
    for rec in stats.sorted_records(stats.tracker(), "name", False):
        writer.writerow([neutralise(rec.target.name),
                         external_url("targets.show", target_slug=rec.target.slug),
                         rec.received, rec.replied,
                         "" if rec.reply_rate is None else f"{rec.reply_rate:.3f}",
                         "" if rec.median_days is None else rec.median_days,
                         rec.overdue, rec.commitments, rec.verified])
    return Response(buffer.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=company-responses.csv"})


@bp.get("/commitments")
@public_page
def register():
    return render_template("replies/register.html", commitments=operations.public_commitments())


# --- inbound mail --------------------------------------------------------------------------

#: form fields in which inbound-mail webhooks put the raw message
RAW_FIELDS = ("body-mime", "email", "message", "raw", "mime")


def _inbound_secret_ok() -> bool:
    secret = current_app.config.get("INBOUND_MAIL_SECRET")
    if not secret:
        abort(404)
    given = request.headers.get("X-Inbound-Secret", "")
    authorization = request.headers.get("Authorization", "")
    if not given and authorization.lower().startswith("bearer "):
        given = authorization[7:].strip()
    if not given and request.authorization and request.authorization.password:
        given = request.authorization.password
    if not given:
        given = request.args.get("secret", "")
    return bool(given) and hmac.compare_digest(given.encode(), secret.encode())


@inbound_bp.post("/inbound/mail")
@csrf.exempt
def receive_mail():
    """Inbound mail from a mail provider's webhook: the raw RFC 822 message as the body
    (message/rfc822), or in a multipart form field (body-mime, email, message, raw).

    Exempt from CSRF: it is called by a mail service, not a browser, and authenticated by
    INBOUND_MAIL_SECRET (X-Inbound-Secret header, a bearer token, basic auth or ?secret=).
    """
    if not _inbound_secret_ok():
        return jsonify(error="unauthorised"), 401
    request.max_content_length = current_app.config["INBOUND_MAX_REQUEST_BYTES"]
    request.max_form_memory_size = current_app.config["INBOUND_MAX_REQUEST_BYTES"]
    raw = b""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name in RAW_FIELDS:
            if name in request.files:
                raw = request.files[name].read()
                break
            if request.form.get(name):
                raw = request.form[name].encode("utf-8", errors="surrogateescape")
                break
    else:
        raw = request.get_data(cache=False)
    if not raw.strip():
        return jsonify(error="no message"), 400
    message = operations.receive_raw(raw, "webhook")
    return jsonify(id=message.id, state=message.state.value, reason=message.reason), 200


# --- workspace -----------------------------------------------------------------------------

@admin.after_request
def workspace_never_cached(response):
    return never_cache(response)


def _thread_or_404(campaign, thread_id: int) -> ReplyThread:
    thread = db.session.get(ReplyThread, thread_id)
    if thread is None or thread.campaign_target.campaign_id != campaign.id:
        abort(404)
    return thread


@admin.get("/admin/replies/")
@require_role(Role.VIEWER)
def overview():
    operations.sync_threads()
    query = (select(ReplyThread).join(CampaignTarget).join(Campaign)
             .options(selectinload(ReplyThread.replies))
             .order_by(Campaign.title, CampaignTarget.position))
    wanted = request.args.get("status", "")
    if wanted in {s.value for s in ThreadStatus}:
        query = query.where(ReplyThread.status == ThreadStatus(wanted))
    else:
        wanted = ""
    threads = db.session.scalars(query).all()
    queued = db.session.scalar(select(db.func.count()).select_from(InboundMessage)
                               .where(InboundMessage.state == InboundState.QUEUED))
    return render_template("replies/admin/overview.html", threads=threads, queued=queued,
                           may_edit=current_user.has_role(Role.CAMPAIGNER), wanted=wanted,
                           statuses=list(ThreadStatus))


@admin.get("/admin/campaigns/<slug>/replies")
@require_role(Role.VIEWER, campaign_scoped=True)
def campaign_threads(campaign):
    threads = operations.threads_of_campaign(campaign)
    return render_template("replies/admin/campaign.html", campaign=campaign, threads=threads,
                           deadline_form=DeadlineForm(formdata=None),
                           may_edit=can_manage_campaign(current_user, campaign))


@admin.post("/admin/campaigns/<slug>/replies/deadline")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def campaign_deadline(campaign):
    form = DeadlineForm()
    if not form.validate():
        abort(400)
    operations.set_campaign_deadline(campaign, form.deadline.data, current_user)
    flash(_("The deadline is set for every target of this campaign."))
    return redirect(url_for("replies_admin.campaign_threads", slug=campaign.slug), 303)


def _status_form(thread: ReplyThread, formdata=None) -> StatusForm:
    form = StatusForm(formdata=formdata)
    form.status.choices = [SelectChoice(s.value, s.label) for s in ThreadStatus
                           if s in TRANSITIONS[thread.status]]
    return form


def _render_thread(campaign, thread, status: int = 200, **forms):
    context = dict(
        campaign=campaign, thread=thread, may_edit=can_manage_campaign(current_user, campaign),
        status_form=_status_form(thread), deadline_form=DeadlineForm(formdata=None, deadline=thread.deadline),
        note_form=NoteForm(formdata=None),
        demands_form=DemandsForm(formdata=None, demands="\n".join(d.text for d in thread.demands)),
        verify_form=VerifyForm(formdata=None, verified_on=utcnow().date()),
        reply_address=operations.reply_address(thread.campaign_target.reply_token),
    )
    context.update(forms)
    return render_template("replies/admin/thread.html", **context), status


@admin.get("/admin/campaigns/<slug>/replies/<int:thread_id>")
@require_role(Role.VIEWER, campaign_scoped=True)
def thread(campaign, thread_id: int):
    return _render_thread(campaign, _thread_or_404(campaign, thread_id))


def _back(campaign, thread):
    return redirect(url_for("replies_admin.thread", slug=campaign.slug, thread_id=thread.id), 303)


@admin.post("/admin/campaigns/<slug>/replies/<int:thread_id>/status")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def change_status(campaign, thread_id: int):
    thread = _thread_or_404(campaign, thread_id)
    form = _status_form(thread, request.form)
    if not form.validate():
        return _render_thread(campaign, thread, 422, status_form=form)
    try:
        operations.change_status(thread, ThreadStatus(form.status.data), current_user)
    except operations.NotAllowed:
        abort(409)
    flash(_("Status changed to %(status)s.", status=thread.status.label))
    return _back(campaign, thread)


@admin.post("/admin/campaigns/<slug>/replies/<int:thread_id>/deadline")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def thread_deadline(campaign, thread_id: int):
    thread = _thread_or_404(campaign, thread_id)
    form = DeadlineForm()
    if not form.validate():
        return _render_thread(campaign, thread, 422, deadline_form=form)
    operations.set_deadline(thread, form.deadline.data, current_user)
    flash(_("Deadline set."))
    return _back(campaign, thread)


@admin.post("/admin/campaigns/<slug>/replies/<int:thread_id>/note")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def add_note(campaign, thread_id: int):
    thread = _thread_or_404(campaign, thread_id)
    form = NoteForm()
    if not form.validate():
        return _render_thread(campaign, thread, 422, note_form=form)
    operations.add_note(thread, form.text.data, form.public.data, current_user)
    flash(_("Note added."))
    return _back(campaign, thread)


@admin.post("/admin/campaigns/<slug>/replies/<int:thread_id>/demands")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def set_demands(campaign, thread_id: int):
    thread = _thread_or_404(campaign, thread_id)
    form = DemandsForm()
    if not form.validate():
        return _render_thread(campaign, thread, 422, demands_form=form)
    operations.set_demands(thread, (form.demands.data or "").splitlines())
    flash(_("Demands saved."))
    return _back(campaign, thread)


@admin.route("/admin/campaigns/<slug>/replies/<int:thread_id>/log", methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def log_reply(campaign, thread_id: int):
    thread = _thread_or_404(campaign, thread_id)
    form = LogReplyForm(data=None if request.method == "POST" else {"received_on": utcnow().date()})
    if form.validate_on_submit():
        files = [(f.filename or "attachment", f.read()) for f in (form.files.data or [])
                 if getattr(f, "filename", None)]
        reply = operations.log_reply(
            thread, channel=ReplyChannel(form.channel.data), received_on=form.received_on.data,
            sender=form.sender.data or "", summary=form.summary.data or "", text=form.text.data,
            files=files,
            actor=current_user)
        flash(_("The reply is logged. Review, grade and publish it below."))
        return redirect(url_for("replies_admin.review", slug=campaign.slug, thread_id=thread.id,
                                reply_id=reply.id), 303)
    return render_template("replies/admin/log.html", campaign=campaign, thread=thread, form=form), \
        422 if form.is_submitted() else 200


def _review_form(thread: ReplyThread, reply: Reply, formdata=None) -> ReviewForm:
    form = ReviewForm(formdata=formdata, data=None if formdata else {
        "public_summary": reply.public_summary,  # never prefilled from the private text
        "status": thread.status.value})
    allowed = [thread.status] + [s for s in ThreadStatus if s in TRANSITIONS[thread.status]]
    form.status.choices = [SelectChoice(s.value, s.label) for s in allowed]
    return form


@admin.route("/admin/campaigns/<slug>/replies/<int:thread_id>/replies/<int:reply_id>",
             methods=["GET", "POST"])
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def review(campaign, thread_id: int, reply_id: int):
    thread = _thread_or_404(campaign, thread_id)
    reply = db.session.get(Reply, reply_id)
    if reply is None or reply.thread_id != thread.id:
        abort(404)
    form = _review_form(thread, reply, request.form if request.method == "POST" else None)
    grades = {g.demand_id: g.grade.value for g in reply.grades}
    if request.method == "POST":
        chosen = {d.id: request.form.get(f"grade-{d.id}", "") for d in thread.demands}
        valid_grades = all(v in {c for c, _label in GRADE_CHOICES} for v in chosen.values())
        status_ok = form.status.data in {c.value for c in form.status.choices}
        if form.validate() and valid_grades and status_ok:
            operations.grade_reply(reply, {k: Grade(v) if v else None for k, v in chosen.items()},
                                   current_user)
            new_status = ThreadStatus(form.status.data)
            if new_status != thread.status:
                operations.change_status(thread, new_status, current_user)
            if form.commitment.data:
                operations.add_commitment(thread, form.commitment.data, reply.received_at.date(),
                                          current_user, reply)
            if form.publish.data:
                if not (form.public_summary.data or "").strip():
                    form.public_summary.errors.append(_("Write the public summary before publishing."))
                    return _render_review(campaign, thread, reply, form, chosen, 422)
                operations.publish_reply(reply, form.public_summary.data, current_user)
                flash(_("The reply is published. Supporters who agreed to hear from us are told."))
            else:
                reply.public_summary = form.public_summary.data or ""
                flash(_("Review saved. It is not public until you publish it."))
            return _back(campaign, thread)
        return _render_review(campaign, thread, reply, form, chosen, 422)
    return _render_review(campaign, thread, reply, form, grades)


def _render_review(campaign, thread, reply, form, grades, status: int = 200):
    return render_template("replies/admin/review.html", campaign=campaign, thread=thread,
                           reply=reply, form=form, grades=grades, grade_choices=GRADE_CHOICES), status


@admin.post("/admin/campaigns/<slug>/replies/<int:thread_id>/commitments/<int:commitment_id>/verify")
@require_role(Role.CAMPAIGNER, campaign_scoped=True)
def verify_commitment(campaign, thread_id: int, commitment_id: int):
    thread = _thread_or_404(campaign, thread_id)
    commitment = db.session.get(Commitment, commitment_id)
    if commitment is None or commitment.thread_id != thread.id:
        abort(404)
    form = VerifyForm()
    if not form.validate():
        return _render_thread(campaign, thread, 422, verify_form=form)
    operations.verify_commitment(commitment, form.verified_on.data, form.note.data or "", current_user)
    flash(_("The commitment is marked as verified."))
    return _back(campaign, thread)


@admin.get("/admin/replies/inbox")
@require_role(Role.CAMPAIGNER)
def inbox():
    messages = db.session.scalars(select(InboundMessage)
                                  .where(InboundMessage.state == InboundState.QUEUED)
                                  .order_by(InboundMessage.id.desc()).limit(200)).all()
    return render_template("replies/admin/inbox.html", messages=messages)


def _queued_or_404(message_id: int) -> InboundMessage:
    message = db.session.get(InboundMessage, message_id)
    if message is None:
        abort(404)
    return message


def _assign_form(formdata=None) -> AssignForm:
    form = AssignForm(formdata=formdata)
    threads = db.session.scalars(select(ReplyThread).join(CampaignTarget).join(Campaign)
                                 .order_by(Campaign.title, CampaignTarget.position)).all()
    form.thread.choices = [SelectChoice(str(t.id), f"{t.campaign.title} \u2192 {t.target.name}")
                           for t in threads if can_manage_campaign(current_user, t.campaign)]
    return form


def _preview(message: InboundMessage) -> str:
    from campaigns.replies import inbound

    try:
        raw = operations.raw_path(message).read_bytes()
    except OSError:
        return ""
    if message.reason == "too_large":
        return raw[:5000].decode("utf-8", errors="replace")
    try:
        return inbound.parse(raw).text[:20000]
    except inbound.Malformed:
        return raw[:5000].decode("utf-8", errors="replace")


@admin.get("/admin/replies/inbox/<int:message_id>")
@require_role(Role.CAMPAIGNER)
def inbox_message(message_id: int):
    message = _queued_or_404(message_id)
    return render_template("replies/admin/inbox_message.html", message=message,
                           preview=_preview(message), assign_form=_assign_form(),
                           discard_form=DiscardForm())


@admin.post("/admin/replies/inbox/<int:message_id>/assign")
@require_role(Role.CAMPAIGNER)
def assign(message_id: int):
    message = _queued_or_404(message_id)
    form = _assign_form(request.form)
    if not form.validate():
        abort(400)
    thread = db.session.get(ReplyThread, int(form.thread.data))
    if thread is None or not can_manage_campaign(current_user, thread.campaign):
        abort(403)
    try:
        reply = operations.assign_inbound(message, thread, current_user)
    except operations.NotAllowed:
        abort(409)
    flash(_("The message is attached to the thread. Review it before publishing."))
    return redirect(url_for("replies_admin.review", slug=thread.campaign.slug, thread_id=thread.id,
                            reply_id=reply.id), 303)


@admin.post("/admin/replies/inbox/<int:message_id>/discard")
@require_role(Role.CAMPAIGNER)
def discard(message_id: int):
    message = _queued_or_404(message_id)
    if not DiscardForm().validate():
        abort(400)
    try:
        operations.discard_inbound(message, current_user)
    except operations.NotAllowed:
        abort(409)
    flash(_("The message is discarded (its raw copy is kept)."))
    return redirect(url_for("replies_admin.inbox"), 303)


@admin.get("/admin/replies/inbox/<int:message_id>/original.eml")
@require_role(Role.CAMPAIGNER)
def original(message_id: int):
    """The message exactly as it arrived, as a download (evidence; never shown as HTML)."""
    message = _queued_or_404(message_id)
    path = operations.raw_path(message)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype="message/rfc822", as_attachment=True,
                         download_name=f"reply-{message.id}.eml", max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@admin.get("/admin/replies/attachments/<int:attachment_id>")
@require_role(Role.VIEWER)
def attachment(attachment_id: int):
    row = db.session.get(ReplyAttachment, attachment_id)
    path = operations.attachment_path(row) if row is not None else None
    if path is None or not path.exists():
        abort(404)
    response = send_file(path, mimetype=row.content_type, as_attachment=True,
                         download_name=row.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
