"""signature intake: what signers submitted, until a worker records it

Revision ID: 470e57af9775
Revises: 3468f1a880bb
Create Date: 2026-11-25 13:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '470e57af9775'
down_revision = '3468f1a880bb'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('signature_intake',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('canonical_email', sa.String(length=320), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_signature_intake_campaign_id_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature_intake')),
    sqlite_autoincrement=True
    )


def downgrade():
    op.drop_table('signature_intake')
