"""paypal cards: the sandbox vault's saved cards and the checkout's buyer cards (seed 002)

Neither table has a column for a card number or CVV, on purpose.

Revision ID: 0004_paypal_cards
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_paypal_cards'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('saved_cards',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('buyer_id', sa.String(length=64), nullable=True),
    sa.Column('brand', sa.String(length=16), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=False),
    sa.Column('exp_year', sa.Integer(), nullable=False),
    sa.Column('holder_name', sa.String(length=130), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_cards'))
    )
    with op.batch_alter_table('saved_cards', schema=None) as batch_op:
        batch_op.create_index('ix_saved_cards_app_buyer', ['app_id', 'buyer_id'], unique=False)

    op.create_table('buyer_cards',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('buyer_id', sa.String(length=64), nullable=False),
    sa.Column('credit_card_id', sa.String(length=64), nullable=False),
    sa.Column('brand', sa.String(length=16), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=False),
    sa.Column('exp_year', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_buyer_cards')),
    sa.UniqueConstraint('app_id', 'credit_card_id', name=op.f('uq_buyer_cards_app_id_credit_card_id'))
    )
    with op.batch_alter_table('buyer_cards', schema=None) as batch_op:
        batch_op.create_index('ix_buyer_cards_app_buyer', ['app_id', 'buyer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('buyer_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_buyer_cards_app_buyer')
    op.drop_table('buyer_cards')
    with op.batch_alter_table('saved_cards', schema=None) as batch_op:
        batch_op.drop_index('ix_saved_cards_app_buyer')
    op.drop_table('saved_cards')
