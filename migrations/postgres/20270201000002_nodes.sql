-- Cluster liveness: one row per node name. A node renews `lease_until`
-- (the database's clock, so the nodes' clocks do not matter) every
-- second or so; `epoch` counts its incarnations (a restart or a rejoin
-- after losing the lease takes the next one). The rescuer marks a node
-- whose lease expired `lost` and ends its running runs `interrupted`.
CREATE TABLE nodes (
    name        TEXT        PRIMARY KEY,
    epoch       BIGINT      NOT NULL,
    lease_until TIMESTAMPTZ NOT NULL,
    started     TIMESTAMPTZ NOT NULL,
    renewed     TIMESTAMPTZ NOT NULL,
    lost        BOOLEAN     NOT NULL DEFAULT false
);

-- Every commit of a cluster node calls this under the commit lock: a node
-- whose lease expired, was marked lost or was taken over by a newer
-- incarnation writes nothing more (SQLSTATE SD001, "lease lost").
CREATE FUNCTION scriptd_lease_check(node TEXT, incarnation BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM nodes n
        WHERE n.name = node AND n.epoch = incarnation AND NOT n.lost
          AND n.lease_until > clock_timestamp()
    ) THEN
        RAISE EXCEPTION 'the lease of node % (incarnation %) is not valid', node, incarnation
            USING ERRCODE = 'SD001';
    END IF;
END
$$;

-- The runs of a lost node that the rescuer ended, with their process
-- groups once spawned: that node, restarted under the same name, removes
-- their status files from its storage and ends whatever their processes
-- left behind (as a single server's restart does), then forgets them.
CREATE TABLE node_leftovers (
    node    TEXT   NOT NULL,
    user_id BIGINT NOT NULL,
    run_id  TEXT   NOT NULL,
    pgid    BIGINT,
    boot    TEXT
);
CREATE INDEX node_leftovers_by_node ON node_leftovers (node);

-- The rescuer's and the cluster view's reads: a node's running runs.
CREATE INDEX runs_running_by_node ON runs (node) WHERE state = 'running';
