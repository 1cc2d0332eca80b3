"""reopen bills: one LIVE bill per (app, mode, bill_no, channel) instead of one bill

The hosted checkout re-opens a channel whose bill expired or failed with a new
bill for the same order (issue 15), so the unique constraint on (app_id,
test_mode, bill_no, channel) becomes a partial unique index over the bills that
are not over (OPEN, FAILED, PAID); SQLite and PostgreSQL both have them.
Downgrading fails while an order holds several bills of one channel.

Revision ID: 0013_reopen_bills
Revises: 0012_alipay_simulator
"""
from alembic import op
import sqlalchemy as sa


revision = '0013_reopen_bills'
down_revision = '0012_alipay_simulator'
branch_labels = None
depends_on = None

COLUMNS = ['app_id', 'test_mode', 'bill_no', 'channel']
LIVE_BILL = "status IN ('OPEN', 'FAILED', 'PAID')"  # checkout.models.LIVE_BILL


def upgrade():
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_constraint('uq_bills_app_id_test_mode_bill_no_channel', type_='unique')
    op.create_index('uq_bills_live_channel', 'bills', COLUMNS, unique=True,
                    sqlite_where=sa.text(LIVE_BILL), postgresql_where=sa.text(LIVE_BILL))


def downgrade():
    op.drop_index('uq_bills_live_channel', table_name='bills')
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_bills_app_id_test_mode_bill_no_channel', COLUMNS)
