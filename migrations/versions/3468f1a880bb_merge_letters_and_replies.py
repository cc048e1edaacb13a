"""merge letters and replies

Revision ID: 3468f1a880bb
Revises: 85a8a803a10e, c7e7f6b78864
Create Date: 2026-11-25 12:19:17.611992

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3468f1a880bb'
down_revision = ('85a8a803a10e', 'c7e7f6b78864')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
