"""demo: the demo shop's app id and the webhooks its receiver accepted

Revision ID: 0003_demo
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_demo'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('demo_shops',
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_demo_shops'))
    )
    op.create_table('demo_webhooks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('transaction_type', sa.String(length=16), nullable=False),
    sa.Column('transaction_id', sa.String(length=64), nullable=False),
    sa.Column('sub_channel_type', sa.String(length=32), nullable=False),
    sa.Column('transaction_fee', sa.BigInteger(), nullable=False),
    sa.Column('fee_matches', sa.Boolean(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('received_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_demo_webhooks')),
    sa.UniqueConstraint('app_id', 'transaction_type', 'transaction_id',
                        name=op.f('uq_demo_webhooks_app_id_transaction_type_transaction_id'))
    )


def downgrade():
    op.drop_table('demo_webhooks')
    op.drop_table('demo_shops')
