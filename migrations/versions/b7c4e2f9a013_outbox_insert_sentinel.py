"""outbox: an insert sentinel (SQLite adds many emails in one INSERT, their ids in order)

Revision ID: b7c4e2f9a013
Revises: 9d3e5a7c1b24
Create Date: 2026-12-03 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7c4e2f9a013'
down_revision = '9d3e5a7c1b24'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.add_column(sa.Column('_sentinel', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_column('_sentinel')
