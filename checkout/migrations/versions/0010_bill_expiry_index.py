"""bill expiry index: the workers' expiry job finds due bills without a scan

Revision ID: 0010_bill_expiry_index
Revises: 0009_refunds
"""
from alembic import op


revision = '0010_bill_expiry_index'
down_revision = '0009_refunds'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_status_expires', ['status', 'expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_status_expires')
