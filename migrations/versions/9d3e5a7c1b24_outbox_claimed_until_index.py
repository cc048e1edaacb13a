"""outbox: index of the claimed emails (the sweep finds the outcomes left untold)

Revision ID: 9d3e5a7c1b24
Revises: 470e57af9775
Create Date: 2026-12-03 08:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9d3e5a7c1b24'
down_revision = '470e57af9775'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.create_index('ix_outgoing_email_claimed_until', ['claimed_until'], unique=False,
                              sqlite_where=sa.text('claimed_until IS NOT NULL'),
                              postgresql_where=sa.text('claimed_until IS NOT NULL'))


def downgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_email_claimed_until',
                            sqlite_where=sa.text('claimed_until IS NOT NULL'),
                            postgresql_where=sa.text('claimed_until IS NOT NULL'))
