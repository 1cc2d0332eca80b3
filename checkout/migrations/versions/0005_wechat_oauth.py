"""wechat oauth: the simulated WeChat's single-use OAuth codes

Revision ID: 0005_wechat_oauth
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0005_wechat_oauth'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('wechat_oauth_codes',
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('appid', sa.String(length=64), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('used_at', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_wechat_oauth_codes'))
    )


def downgrade():
    op.drop_table('wechat_oauth_codes')
