"""letters: each letter's email is rendered at confirmation (a prepared outbox email)

Revision ID: d5e9a2c7b318
Revises: c3d8f1a6e257
Create Date: 2026-12-03 13:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5e9a2c7b318'
down_revision = 'c3d8f1a6e257'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prepared_key', sa.String(length=32), nullable=True))


def downgrade():
    # the code before this revision knows no prepared emails: they go (their letters are
    # rendered at their release again, as they were then)
    op.execute("UPDATE letter SET email_id = NULL WHERE email_id IN "
               "(SELECT id FROM outgoing_email WHERE state = 'prepared')")
    op.execute("DELETE FROM outgoing_email WHERE state = 'prepared'")
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.drop_column('prepared_key')
