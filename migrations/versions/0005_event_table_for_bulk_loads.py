"""journey events built for bulk loads: no foreign-key constraints, two secondary indexes

The events table is the one table that source systems fill by the million. Its two
foreign-key checks (a trigger per row each) and its three B-tree indexes cost PostgreSQL
about ten times what the rows themselves cost (docs/performance.md). The references are
resolved by the only writers in the same transaction (cxjourney/customers/events.py), a
merge moves a customer's events before it deletes the customer, and touchpoints are
never deleted; the timeline needs an index on the customer alone (one customer's events
are few and sorted on read), and windows of time a BRIN index on PostgreSQL.

Revision ID: 7d2e4a91c0f3
Revises: cb7b56b5e9e4
Create Date: 2026-12-04 21:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '7d2e4a91c0f3'
down_revision = 'cb7b56b5e9e4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('journey_event', schema=None) as batch_op:
        batch_op.drop_constraint('fk_journey_event_customer_id_customer', type_='foreignkey')
        batch_op.drop_constraint('fk_journey_event_touchpoint_id_touchpoint', type_='foreignkey')
        batch_op.drop_index('ix_journey_event_touchpoint_time')
        batch_op.drop_index('ix_journey_event_customer_time')
        batch_op.drop_index('ix_journey_event_occurred_at')
        batch_op.create_index('ix_journey_event_customer_id', ['customer_id'], unique=False)
        batch_op.create_index(
            'ix_journey_event_occurred_at', ['occurred_at'], unique=False,
            postgresql_using='brin',
        )


def downgrade():
    with op.batch_alter_table('journey_event', schema=None) as batch_op:
        batch_op.drop_index('ix_journey_event_occurred_at')
        batch_op.drop_index('ix_journey_event_customer_id')
        batch_op.create_index('ix_journey_event_occurred_at', ['occurred_at'], unique=False)
        batch_op.create_index(
            'ix_journey_event_customer_time', ['customer_id', 'occurred_at', 'id'], unique=False
        )
        batch_op.create_index(
            'ix_journey_event_touchpoint_time', ['touchpoint_id', 'occurred_at'], unique=False
        )
        batch_op.create_foreign_key(
            'fk_journey_event_touchpoint_id_touchpoint', 'touchpoint', ['touchpoint_id'], ['id']
        )
        batch_op.create_foreign_key(
            'fk_journey_event_customer_id_customer', 'customer', ['customer_id'], ['id']
        )
