"""coupons: coupon templates and issued coupons (seed 003, lines 1280-1424)

Revision ID: 0002_coupons
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_coupons'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('coupon_templates',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('type', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=True),
    sa.Column('limit_fee', sa.BigInteger(), nullable=False),
    sa.Column('amount_off', sa.BigInteger(), nullable=True),
    sa.Column('ratio_bp', sa.Integer(), nullable=True),
    sa.Column('total_count', sa.Integer(), nullable=False),
    sa.Column('max_count_per_user', sa.Integer(), nullable=False),
    sa.Column('deliver_count', sa.Integer(), nullable=False),
    sa.Column('use_count', sa.Integer(), nullable=False),
    sa.Column('expiry_type', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.BigInteger(), nullable=True),
    sa.Column('end_time', sa.BigInteger(), nullable=True),
    sa.Column('delivery_valid_days', sa.Integer(), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('mch_account', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_templates'))
    )
    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.create_index('ix_coupon_templates_app_created', ['app_id', 'created_at'], unique=False)

    op.create_table('coupons',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('template_id', sa.String(length=36), nullable=False),
    sa.Column('app_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('start_time', sa.BigInteger(), nullable=True),
    sa.Column('end_time', sa.BigInteger(), nullable=True),
    sa.Column('use_time', sa.BigInteger(), nullable=True),
    sa.Column('used_by_bill', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['coupon_templates.id'], name=op.f('fk_coupons_template_id_coupon_templates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index('ix_coupons_app_created', ['app_id', 'created_at'], unique=False)
        batch_op.create_index('ix_coupons_app_user', ['app_id', 'user_id', 'status'], unique=False)
        batch_op.create_index('ix_coupons_template_user', ['template_id', 'user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index('ix_coupons_template_user')
        batch_op.drop_index('ix_coupons_app_user')
        batch_op.drop_index('ix_coupons_app_created')
    op.drop_table('coupons')
    with op.batch_alter_table('coupon_templates', schema=None) as batch_op:
        batch_op.drop_index('ix_coupon_templates_app_created')
    op.drop_table('coupon_templates')
