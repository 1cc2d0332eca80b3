"""refunds: the refunds table and each bill's refunded / refunding amounts

Revision ID: 0009_refunds
Revises: 0008_rate_limit_entries
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_refunds'
down_revision = '0008_rate_limit_entries'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('refunds',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('test_mode', sa.Boolean(), nullable=False),
    sa.Column('bill_id', sa.String(length=36), nullable=False),
    sa.Column('bill_no', sa.String(length=32), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('refund_no', sa.String(length=32), nullable=False),
    sa.Column('refund_fee', sa.BigInteger(), nullable=False),
    sa.Column('optional', sa.JSON(), nullable=True),
    sa.Column('need_approval', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('deny_reason', sa.Text(), nullable=True),
    sa.Column('message_detail', sa.JSON(), nullable=True),
    sa.Column('create_time', sa.BigInteger(), nullable=False),
    sa.Column('settle_at', sa.BigInteger(), nullable=True),
    sa.Column('finish_time', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('app_id', 'test_mode', 'refund_no',
                        name=op.f('uq_refunds_app_id_test_mode_refund_no'))
    )
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.create_index('ix_refunds_app_created', ['app_id', 'test_mode', 'create_time'],
                              unique=False)
        batch_op.create_index('ix_refunds_bill', ['bill_id'], unique=False)
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refunded_fee', sa.BigInteger(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('refunding_fee', sa.BigInteger(), nullable=False,
                                      server_default='0'))


def downgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_column('refunding_fee')
        batch_op.drop_column('refunded_fee')
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_index('ix_refunds_bill')
        batch_op.drop_index('ix_refunds_app_created')
    op.drop_table('refunds')
