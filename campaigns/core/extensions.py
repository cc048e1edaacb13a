"""Extensions, created unbound and bound to the app in create_app()."""
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from campaigns.core.db import db

__all__ = ["db", "migrate", "mail", "csrf", "limiter", "babel", "login_manager"]

migrate = Migrate()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
#: the remote address is the client's once ProxyFix has applied TRUSTED_PROXY_HOPS
limiter = Limiter(key_func=get_remote_address, default_limits=[])
login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.session_protection = "basic"
