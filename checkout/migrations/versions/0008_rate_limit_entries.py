"""rate limit entries: failed card attempts counted in the database

The ``limits`` library's moving window, stored in a table when no Redis is
configured (``checkout.rate_limit_storage``). Keys name an order, an IP or a
merchant app; no column can hold a card number or CVV.

Revision ID: 0008_rate_limit_entries
Revises: 0007_row_versions
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_rate_limit_entries'
down_revision = '0007_row_versions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rate_limit_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rate_limit_entries'))
    )
    with op.batch_alter_table('rate_limit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_rate_limit_entries_key_at', ['key', 'at'], unique=False)
        batch_op.create_index('ix_rate_limit_entries_expires_at', ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('rate_limit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_rate_limit_entries_expires_at')
        batch_op.drop_index('ix_rate_limit_entries_key_at')
    op.drop_table('rate_limit_entries')
