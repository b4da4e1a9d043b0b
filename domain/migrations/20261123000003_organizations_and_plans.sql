-- Organisations and their plans. An account outside any organisation is on the Free plan.
-- The plan decides session lifetimes now, and (with two-step verification) whether a second
-- factor is required.
CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    plan       text NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT organizations_plan_known CHECK (plan IN ('free', 'pro', 'enterprise')),
    CONSTRAINT organizations_name_length CHECK (char_length(name) BETWEEN 1 AND 100)
);

ALTER TABLE users
    ADD COLUMN organization_id uuid REFERENCES organizations (id) ON DELETE SET NULL;

CREATE INDEX users_organization_idx ON users (organization_id) WHERE organization_id IS NOT NULL;
