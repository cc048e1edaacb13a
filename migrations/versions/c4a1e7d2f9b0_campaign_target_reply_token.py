"""campaign x target reply token (reply+<token>@REPLY_DOMAIN)

Revision ID: c4a1e7d2f9b0
Revises: b349ecb23a02
Create Date: 2026-11-25 11:20:00

"""
import secrets
import string

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4a1e7d2f9b0'
down_revision = 'b349ecb23a02'
branch_labels = None
depends_on = None

ALPHABET = string.ascii_lowercase + string.digits


def upgrade():
    with op.batch_alter_table('campaign_target', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_token', sa.String(length=32), nullable=True))
    bind = op.get_bind()
    table = sa.table('campaign_target', sa.column('id', sa.Integer), sa.column('reply_token', sa.String))
    for (row_id,) in bind.execute(sa.select(table.c.id)).all():
        token = "".join(secrets.choice(ALPHABET) for _ in range(20))
        bind.execute(table.update().where(table.c.id == row_id).values(reply_token=token))
    with op.batch_alter_table('campaign_target', schema=None) as batch_op:
        batch_op.alter_column('reply_token', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_campaign_target_reply_token'), ['reply_token'])


def downgrade():
    with op.batch_alter_table('campaign_target', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_campaign_target_reply_token'), type_='unique')
        batch_op.drop_column('reply_token')
