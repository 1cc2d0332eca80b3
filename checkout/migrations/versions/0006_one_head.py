"""one head: join the branches that 0002-0005 grew from 0001

Those migrations were written side by side, each on top of 0001; this empty
merge gives the history one head again, so the next migration has a single
parent and ``alembic upgrade head`` works as well as ``heads``.

Revision ID: 0006_one_head
"""

revision = '0006_one_head'
down_revision = ('0002_coupons', '0003_demo', '0004_paypal_cards', '0005_wechat_oauth')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
