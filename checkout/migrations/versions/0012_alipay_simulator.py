"""alipay simulator: the Alipay simulator's own apps, trades, refunds and
notifications (checkout.simulators.alipay; issue 14)

Revision ID: 0012_alipay_simulator
Revises: 0011_channel_credentials
"""
from alembic import op
import sqlalchemy as sa


revision = '0012_alipay_simulator'
down_revision = '0011_channel_credentials'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alipay_sim_apps',
    sa.Column('app_id', sa.String(length=16), nullable=False),
    sa.Column('app_public_key', sa.Text(), nullable=False),
    sa.Column('alipay_private_key', sa.Text(), nullable=False),
    sa.Column('alipay_public_key', sa.Text(), nullable=False),
    sa.Column('seller_id', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('app_id', name=op.f('pk_alipay_sim_apps'))
    )
    op.create_table('alipay_sim_trades',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('app_id', sa.String(length=16), nullable=False),
    sa.Column('out_trade_no', sa.String(length=64), nullable=False),
    sa.Column('trade_no', sa.String(length=32), nullable=False),
    sa.Column('method', sa.String(length=64), nullable=False),
    sa.Column('product_code', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('notify_url', sa.Text(), nullable=True),
    sa.Column('return_url', sa.Text(), nullable=True),
    sa.Column('qr_pay_mode', sa.String(length=2), nullable=True),
    sa.Column('qrcode_width', sa.Integer(), nullable=True),
    sa.Column('token', sa.String(length=48), nullable=False),
    sa.Column('opened_at', sa.BigInteger(), nullable=True),
    sa.Column('buyer_user_id', sa.String(length=16), nullable=True),
    sa.Column('buyer_logon_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('paid_at', sa.BigInteger(), nullable=True),
    sa.Column('closed_at', sa.BigInteger(), nullable=True),
    sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
    sa.Column('cancel_action', sa.String(length=8), nullable=True),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['alipay_sim_apps.app_id'],
                            name=op.f('fk_alipay_sim_trades_app_id_alipay_sim_apps')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alipay_sim_trades')),
    sa.UniqueConstraint('app_id', 'out_trade_no',
                        name=op.f('uq_alipay_sim_trades_app_id_out_trade_no')),
    sa.UniqueConstraint('token', name=op.f('uq_alipay_sim_trades_token')),
    sa.UniqueConstraint('trade_no', name=op.f('uq_alipay_sim_trades_trade_no'))
    )
    op.create_table('alipay_sim_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trade_id', sa.Integer(), nullable=False),
    sa.Column('out_request_no', sa.String(length=64), nullable=False),
    sa.Column('refund_fen', sa.BigInteger(), nullable=False),
    sa.Column('refund_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['trade_id'], ['alipay_sim_trades.id'],
                            name=op.f('fk_alipay_sim_refunds_trade_id_alipay_sim_trades')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alipay_sim_refunds')),
    sa.UniqueConstraint('trade_id', 'out_request_no',
                        name=op.f('uq_alipay_sim_refunds_trade_id_out_request_no'))
    )
    op.create_table('alipay_sim_notifies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trade_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=True),
    sa.Column('last_answer', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('delivered_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['trade_id'], ['alipay_sim_trades.id'],
                            name=op.f('fk_alipay_sim_notifies_trade_id_alipay_sim_trades')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alipay_sim_notifies'))
    )
    with op.batch_alter_table('alipay_sim_notifies', schema=None) as batch_op:
        batch_op.create_index('ix_alipay_sim_notifies_due', ['status', 'next_attempt_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('alipay_sim_notifies', schema=None) as batch_op:
        batch_op.drop_index('ix_alipay_sim_notifies_due')
    op.drop_table('alipay_sim_notifies')
    op.drop_table('alipay_sim_refunds')
    op.drop_table('alipay_sim_trades')
    op.drop_table('alipay_sim_apps')
