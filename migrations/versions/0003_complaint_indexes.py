"""complaint indexes: open complaints per assignee from one index; no index twice

The single-column indexes on customer_id and team_id are the leading columns of
ix_complaint_customer_touchpoint and ix_complaint_team_status and cost every INSERT.

Revision ID: 5b7f0c2d9e41
Revises: 29cac0452480
Create Date: 2026-11-24 04:15:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5b7f0c2d9e41'
down_revision = '29cac0452480'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_assignee_status', ['assignee_id', 'status'], unique=False)
        batch_op.drop_index(batch_op.f('ix_complaint_assignee_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_customer_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_team_id'))


def downgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_team_id'), ['team_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_assignee_id'), ['assignee_id'], unique=False)
        batch_op.drop_index('ix_complaint_assignee_status')
