"""channel credentials: each app's encrypted credentials per provider (issue 14's
支付要素) and the merchant's checkout mode

Revision ID: 0011_channel_credentials
Revises: 0010_bill_expiry_index
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_channel_credentials'
down_revision = '0010_bill_expiry_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('channel_credentials',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('ciphertext', sa.Text(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_credentials')),
    sa.UniqueConstraint('app_id', 'provider',
                        name=op.f('uq_channel_credentials_app_id_provider'))
    )
    # Existing merchants keep what they had: before issue 14 every hosted
    # checkout bill went to the simulated cashier, i.e. test mode.
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkout_mode', sa.String(length=4), nullable=False,
                                      server_default='test'))


def downgrade():
    with op.batch_alter_table('merchants', schema=None) as batch_op:
        batch_op.drop_column('checkout_mode')
    op.drop_table('channel_credentials')
