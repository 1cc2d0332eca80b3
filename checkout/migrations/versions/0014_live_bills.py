"""live bills: the provider a bill is paid at, its number there, the worker's checks

Revision ID: 0014_live_bills
Revises: 0013_reopen_bills
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_live_bills'
down_revision = '0013_reopen_bills'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('provider_ref', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('provider_closed', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('next_check_at', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_bills_provider_ref', ['app_id', 'provider', 'provider_ref'],
                              unique=True)
        batch_op.create_index('ix_bills_next_check', ['next_check_at'], unique=False)


def downgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_next_check')
        batch_op.drop_index('ix_bills_provider_ref')
        batch_op.drop_column('next_check_at')
        batch_op.drop_column('provider_closed')
        batch_op.drop_column('provider_ref')
        batch_op.drop_column('provider')
