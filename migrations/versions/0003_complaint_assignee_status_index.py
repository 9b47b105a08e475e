"""open complaints per assignee counted from one index

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


def downgrade():
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_assignee_id'), ['assignee_id'], unique=False)
        batch_op.drop_index('ix_complaint_assignee_status')
