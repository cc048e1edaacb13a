"""merge: donations, abuse, supporters, workspace, dashboards

Revision ID: 2e0bbdc27056
Revises: 0ebe109e4c40, 1294ae536c19, 1de9a3967794, 29fdd7956944, 57cf9377c9ce
Create Date: 2026-11-25 10:01:51.760360

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '2e0bbdc27056'
down_revision = ('0ebe109e4c40', '1294ae536c19', '1de9a3967794', '29fdd7956944', '57cf9377c9ce')
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
