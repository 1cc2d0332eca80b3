"""row versions: merchants and checkout orders count their updates

``version`` starts at 1 and every UPDATE adds one (``models.row_version``),
so a page made from a row can tell whether the row has changed since.

Revision ID: 0007_row_versions
Revises: 0006_one_head
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_row_versions'
down_revision = '0006_one_head'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('merchants', 'checkout_orders'):
        op.add_column(table, sa.Column('version', sa.Integer(), nullable=False,
                                       server_default='1'))


def downgrade():
    for table in ('checkout_orders', 'merchants'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('version')
