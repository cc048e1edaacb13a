"""outbox: the sweep's index holds only the queued emails

Revision ID: c3d8f1a6e257
Revises: b7c4e2f9a013
Create Date: 2026-12-03 11:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3d8f1a6e257'
down_revision = 'b7c4e2f9a013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_email_next_attempt_at')
        batch_op.create_index('ix_outgoing_email_queued', ['next_attempt_at'], unique=False,
                              sqlite_where=sa.text("state = 'queued'"),
                              postgresql_where=sa.text("state = 'queued'"))


def downgrade():
    with op.batch_alter_table('outgoing_email', schema=None) as batch_op:
        batch_op.drop_index('ix_outgoing_email_queued',
                            sqlite_where=sa.text("state = 'queued'"),
                            postgresql_where=sa.text("state = 'queued'"))
        batch_op.create_index('ix_outgoing_email_next_attempt_at', ['next_attempt_at'], unique=False)
