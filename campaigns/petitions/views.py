"""Public campaign pages."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from campaigns.core.security import public_page
from campaigns.moderation.operations import approved_comments
from campaigns.petitions.operations import listed_campaigns, visible_campaign_or_404
from campaigns.signatures.forms import SignatureForm
from campaigns.signatures.operations import recent_public_signers

bp = Blueprint("petitions", __name__)
#: the campaign page carries each reader's own CSRF token: for the browser, never a shared cache
READER_OWN_PAGE = {"Cache-Control": "private, no-cache"}


@bp.get("/")
@public_page
def home():
    return render_template("petitions/home.html", campaigns=listed_campaigns())


@bp.get("/c/<slug>")
def show(slug: str):
    from campaigns.petitions import page_cache
    from campaigns.signatures.views import signing_query_values

    if not page_cache.cacheable():
        html, status = render_campaign(visible_campaign_or_404(slug), SignatureForm())
        # signed in: no-store (campaigns/core/security.py)
        return html, status, ({} if current_user.is_authenticated else READER_OWN_PAGE)

    def draw() -> str:
        form = SignatureForm()
        form.csrf_token.current_token = page_cache.CSRF_PLACEHOLDER
        form.started.data = page_cache.STARTED_PLACEHOLDER
        return render_campaign(visible_campaign_or_404(slug), form)[0]

    query = tuple(sorted(signing_query_values().items()))
    return page_cache.cached_page((slug, query), draw), 200, READER_OWN_PAGE


def render_campaign(campaign, form, status: int = 200):
    from campaigns.actions.operations import action_for, takes_letters

    return render_template(
        "petitions/show.html",
        campaign=campaign,
        form=form,
        signers=recent_public_signers(campaign),
        comments=approved_comments(campaign),
        email_action_open=takes_letters(action_for(campaign)),
    ), status


@bp.get("/media/<name>")
def media(name: str):
    """An uploaded campaign image (see campaigns/core/uploads.py); names never change meaning."""
    from flask import abort, send_from_directory

    from campaigns.core.uploads import MEDIA_TYPES, upload_dir

    extension = name.rpartition(".")[2]
    if extension not in MEDIA_TYPES:
        abort(404)
    response = send_from_directory(upload_dir(), name, mimetype=MEDIA_TYPES[extension],
                                   max_age=365 * 24 * 3600)
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.app_template_filter("image_url")
def image_url(image: str, external: bool = False) -> str:
    """The address of a campaign image: an upload (media/...) or a file under static/."""
    from flask import current_app, url_for

    from campaigns.core.uploads import MEDIA_PREFIX

    if image.startswith(MEDIA_PREFIX):
        url = url_for("petitions.media", name=image[len(MEDIA_PREFIX):])
    else:
        url = url_for("static", filename=image)
    return current_app.config["BASE_URL"] + url if external else url
