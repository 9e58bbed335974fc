-- The double-entry ledger: the source of truth for money.
-- Invariants are enforced here as well as in Rust (services/ledger), so a bug in either is caught:
--   * an entry's postings sum to zero per asset (checked at COMMIT by a deferred constraint trigger);
--   * accounts whose purpose forbids overdraft never go negative (CHECK constraint; row locks taken
--     by the balance update serialise concurrent writers, so this holds under concurrency);
--   * entries, postings and resolved holds are never updated or deleted: corrections are new entries;
--   * a posting's amount has the account's asset and at most its scale.
CREATE SCHEMA ledger;

CREATE TABLE ledger.accounts (
    id              UUID PRIMARY KEY,
    owner_kind      TEXT NOT NULL CHECK (owner_kind IN ('merchant', 'platform')),
    -- NULL for the platform. Not a foreign key: the ledger does not know what a merchant is.
    owner_id        UUID,
    asset           TEXT NOT NULL,
    scale           SMALLINT NOT NULL CHECK (scale BETWEEN 0 AND 18),
    purpose         TEXT NOT NULL,
    allow_negative  BOOLEAN NOT NULL,
    balance         NUMERIC NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT accounts_owner_matches_kind CHECK ((owner_kind = 'platform') = (owner_id IS NULL)),
    CONSTRAINT accounts_balance_non_negative CHECK (allow_negative OR balance >= 0)
);
-- NULLS NOT DISTINCT so there is exactly one platform account per asset and purpose.
CREATE UNIQUE INDEX accounts_owner_asset_purpose ON ledger.accounts (owner_kind, owner_id, asset, purpose) NULLS NOT DISTINCT;

CREATE TABLE ledger.entries (
    id          UUID PRIMARY KEY,
    kind        TEXT NOT NULL,
    memo        TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE ledger.postings (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id    UUID NOT NULL REFERENCES ledger.entries (id),
    account_id  UUID NOT NULL REFERENCES ledger.accounts (id),
    asset       TEXT NOT NULL,
    amount      NUMERIC NOT NULL CONSTRAINT postings_amount_non_zero CHECK (amount <> 0),
    -- The account's balance right after this posting: lets time-weighted balances and
    -- statements be read without refolding history.
    balance_after NUMERIC NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX postings_entry ON ledger.postings (entry_id, id);
CREATE INDEX postings_account ON ledger.postings (account_id, id);

-- Applies a posting to its account's balance. Runs for every posting, so no writer can change a
-- balance without a posting that explains it.
CREATE FUNCTION ledger.apply_posting() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    acc ledger.accounts%ROWTYPE;
BEGIN
    UPDATE ledger.accounts SET balance = balance + NEW.amount
     WHERE id = NEW.account_id
    RETURNING * INTO acc;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'posting to unknown account %', NEW.account_id USING ERRCODE = '23503';
    END IF;
    IF acc.asset <> NEW.asset THEN
        RAISE EXCEPTION 'posting of % to a % account %', NEW.asset, acc.asset, acc.id
            USING ERRCODE = '23514', CONSTRAINT = 'postings_asset_matches_account';
    END IF;
    IF NEW.amount <> round(NEW.amount, acc.scale) THEN
        RAISE EXCEPTION 'posting amount % has more than % decimals for %', NEW.amount, acc.scale, acc.asset
            USING ERRCODE = '23514', CONSTRAINT = 'postings_amount_within_scale';
    END IF;
    NEW.balance_after := acc.balance;
    RETURN NEW;
END $$;

CREATE TRIGGER postings_apply BEFORE INSERT ON ledger.postings
    FOR EACH ROW EXECUTE FUNCTION ledger.apply_posting();

-- At COMMIT, every entry that received postings must have at least two and balance per asset.
-- It fires once per posting, but only the entry's last posting does the sum, so the check is
-- linear in the number of postings.
CREATE FUNCTION ledger.assert_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad RECORD;
    n BIGINT;
BEGIN
    IF NEW.id <> (SELECT max(id) FROM ledger.postings WHERE entry_id = NEW.entry_id) THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO n FROM ledger.postings WHERE entry_id = NEW.entry_id;
    IF n < 2 THEN
        RAISE EXCEPTION 'ledger entry % has % posting(s); an entry needs at least two', NEW.entry_id, n
            USING ERRCODE = '23514', CONSTRAINT = 'entries_balanced';
    END IF;
    SELECT asset, sum(amount) AS total INTO bad
      FROM ledger.postings WHERE entry_id = NEW.entry_id
     GROUP BY asset HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger entry % does not balance: % postings sum to %', NEW.entry_id, bad.asset, bad.total
            USING ERRCODE = '23514', CONSTRAINT = 'entries_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER postings_entry_balanced AFTER INSERT ON ledger.postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger.assert_entry_balanced();

-- An entry without postings would be a silent no-op record; refuse it at commit too.
CREATE FUNCTION ledger.assert_entry_has_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM ledger.postings WHERE entry_id = NEW.id) THEN
        RAISE EXCEPTION 'ledger entry % has no postings', NEW.id
            USING ERRCODE = '23514', CONSTRAINT = 'entries_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER entries_have_postings AFTER INSERT ON ledger.entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger.assert_entry_has_postings();

CREATE FUNCTION ledger.forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed; post a correcting entry instead', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '42501';
END $$;

CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON ledger.entries
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON ledger.entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON ledger.postings
    FOR EACH ROW EXECUTE FUNCTION ledger.forbid_change();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON ledger.postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger.forbid_change();

-- Two-phase holds: the pending phase moves money from available to reserved; posting moves it
-- from reserved to its destination, voiding moves it back. Each happens at most once.
CREATE TABLE ledger.holds (
    id                  UUID PRIMARY KEY,
    reserved_account_id UUID NOT NULL REFERENCES ledger.accounts (id),
    available_account_id UUID NOT NULL REFERENCES ledger.accounts (id),
    asset               TEXT NOT NULL,
    amount              NUMERIC NOT NULL CHECK (amount > 0),
    status              TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'posted', 'voided')),
    pending_entry_id    UUID NOT NULL REFERENCES ledger.entries (id),
    resolved_entry_id   UUID REFERENCES ledger.entries (id),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    resolved_at         TIMESTAMPTZ,
    CONSTRAINT holds_resolution_consistent CHECK ((status = 'pending') = (resolved_entry_id IS NULL))
);

CREATE FUNCTION ledger.guard_hold_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'holds are never deleted' USING ERRCODE = '42501';
    END IF;
    IF OLD.status <> 'pending' OR NEW.status = 'pending'
       OR NEW.amount <> OLD.amount OR NEW.asset <> OLD.asset
       OR NEW.reserved_account_id <> OLD.reserved_account_id
       OR NEW.available_account_id <> OLD.available_account_id
       OR NEW.pending_entry_id <> OLD.pending_entry_id THEN
        RAISE EXCEPTION 'hold % is %; a hold resolves from pending exactly once', OLD.id, OLD.status
            USING ERRCODE = '23514', CONSTRAINT = 'holds_resolve_once';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER holds_resolve_once BEFORE UPDATE OR DELETE ON ledger.holds
    FOR EACH ROW EXECUTE FUNCTION ledger.guard_hold_transition();
