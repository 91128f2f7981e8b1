"""The database schema, as numbered migrations applied in order (`PRAGMA user_version`).

Never edit a migration that has shipped; append a new one.
"""

MIGRATIONS: list[str] = [
    # 1: the whole domain
    """
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );

    CREATE TABLE mailboxes (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('imap', 'pop3', 'maildir')),
        host TEXT,
        port INTEGER,
        security TEXT NOT NULL DEFAULT 'ssl' CHECK (security IN ('ssl', 'starttls', 'none')),
        verify_tls INTEGER NOT NULL DEFAULT 1,
        ca_file TEXT,
        username TEXT,
        auth TEXT NOT NULL DEFAULT 'password' CHECK (auth IN ('password', 'oauth2')),
        password TEXT,
        folder TEXT NOT NULL DEFAULT 'INBOX',
        processed_folder TEXT,
        maildir_path TEXT,
        oauth_provider TEXT,
        tenant_id TEXT,
        client_id TEXT,
        client_secret TEXT,
        client_secret_expires_at TEXT,
        redirect_url TEXT,
        refresh_token TEXT,
        refresh_token_issued_at TEXT,
        access_token_expires_at TEXT,
        oauth_state TEXT,
        last_run_at TEXT,
        last_success_at TEXT,
        last_error TEXT,
        failed_runs INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE ticket_types (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        task TEXT NOT NULL CHECK (task IN ('simple_storage', 'assignment', 'bounce_back')),
        description TEXT NOT NULL DEFAULT '',
        email_to TEXT NOT NULL,            -- JSON list of addresses, lower-cased
        workflow_tag TEXT NOT NULL UNIQUE COLLATE NOCASE,
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
        admin_email TEXT,
        email_forward TEXT,
        save_table TEXT,
        save_from_column TEXT,
        save_subject_column TEXT,
        save_body_column TEXT,
        active INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX ticket_types_mailbox ON ticket_types(mailbox_id);

    CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT 'contact'
            CHECK (role IN ('contact', 'lead', 'student', 'tutor', 'admin')),
        created_at TEXT NOT NULL
    );

    CREATE TABLE courses (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        question_type_id INTEGER REFERENCES ticket_types(id),
        assignment_type_id INTEGER REFERENCES ticket_types(id)
    );

    CREATE TABLE enrolments (
        id INTEGER PRIMARY KEY,
        course_id INTEGER NOT NULL REFERENCES courses(id),
        student_id INTEGER NOT NULL REFERENCES contacts(id),
        tutor_id INTEGER REFERENCES contacts(id),
        UNIQUE (course_id, student_id)
    );
    CREATE INDEX enrolments_student ON enrolments(student_id);
    CREATE INDEX enrolments_tutor ON enrolments(tutor_id);

    -- one row per message ever taken from a mailbox; nothing leaves a mailbox without one
    CREATE TABLE ledger (
        id INTEGER PRIMARY KEY,
        mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
        uid TEXT NOT NULL,
        message_id TEXT,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        raw_path TEXT,                     -- under the data directory; NULL if not kept (oversized)
        disposition TEXT NOT NULL CHECK (disposition IN ('new_ticket', 'reply', 'bounce',
            'error_ticket', 'invalid_ticket', 'rejected', 'ignored', 'duplicate')),
        rule TEXT NOT NULL,
        reason TEXT NOT NULL,
        ticket_id INTEGER REFERENCES tickets(id),
        log_id INTEGER REFERENCES ticket_logs(id),
        received_at TEXT NOT NULL
    );
    CREATE INDEX ledger_mailbox_hash ON ledger(mailbox_id, sha256);
    CREATE INDEX ledger_mailbox_message_id ON ledger(mailbox_id, message_id);
    CREATE INDEX ledger_mailbox_uid ON ledger(mailbox_id, uid);
    CREATE INDEX ledger_ticket ON ledger(ticket_id);

    CREATE TABLE tickets (
        id INTEGER PRIMARY KEY,
        type_id INTEGER REFERENCES ticket_types(id),
        mailbox_id INTEGER REFERENCES mailboxes(id),
        contact_id INTEGER REFERENCES contacts(id),
        kind TEXT NOT NULL DEFAULT 'normal' CHECK (kind IN ('normal', 'invalid', 'error')),
        status TEXT NOT NULL DEFAULT 'new'
            CHECK (status IN ('new', 'open', 'answered', 'waiting', 'resolved', 'closed')),
        subject TEXT NOT NULL DEFAULT '',
        from_email TEXT NOT NULL DEFAULT '',
        from_name TEXT NOT NULL DEFAULT '',
        error_reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX tickets_status ON tickets(status, updated_at);
    CREATE INDEX tickets_type ON tickets(type_id, updated_at);
    CREATE INDEX tickets_mailbox ON tickets(mailbox_id, updated_at);
    CREATE INDEX tickets_contact ON tickets(contact_id);
    CREATE INDEX tickets_kind ON tickets(kind, updated_at);
    CREATE INDEX tickets_updated ON tickets(updated_at);

    CREATE TABLE ticket_logs (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
        from_email TEXT NOT NULL DEFAULT '',
        from_name TEXT NOT NULL DEFAULT '',
        to_email TEXT NOT NULL DEFAULT '',
        to_name TEXT NOT NULL DEFAULT '',
        receiver_contact_id INTEGER REFERENCES contacts(id),
        cc TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        body_text TEXT NOT NULL DEFAULT '',
        body_html TEXT,
        message_id TEXT,
        in_reply_to TEXT,
        ledger_id INTEGER REFERENCES ledger(id),
        created_at TEXT NOT NULL
    );
    CREATE INDEX ticket_logs_ticket ON ticket_logs(ticket_id, id);
    CREATE INDEX ticket_logs_message_id ON ticket_logs(message_id);

    CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        log_id INTEGER NOT NULL REFERENCES ticket_logs(id),
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,              -- the file is data_dir/attachments/<sha256[:2]>/<sha256>
        content_id TEXT,
        inline INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX attachments_log ON attachments(log_id);

    CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL UNIQUE REFERENCES tickets(id),
        course_id INTEGER REFERENCES courses(id),
        student_id INTEGER NOT NULL REFERENCES contacts(id),
        tutor_id INTEGER REFERENCES contacts(id),
        status TEXT NOT NULL DEFAULT 'submitted'
            CHECK (status IN ('submitted', 'feedback_returned', 'resubmitted', 'completed')),
        submissions INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE email_queue (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER REFERENCES tickets(id),
        log_id INTEGER REFERENCES ticket_logs(id),
        purpose TEXT NOT NULL,             -- new_ticket, relay, reply, reassigned, assignment_*...
        from_email TEXT NOT NULL,
        from_name TEXT NOT NULL DEFAULT '',
        to_email TEXT NOT NULL,
        to_name TEXT NOT NULL DEFAULT '',
        cc TEXT NOT NULL DEFAULT '',
        reply_to TEXT,
        subject TEXT NOT NULL,
        body_text TEXT NOT NULL,
        body_html TEXT,
        message_id TEXT NOT NULL UNIQUE,   -- fixed at creation: a resend after a crash is the same mail
        in_reply_to TEXT,
        references_ TEXT,
        envelope_from TEXT,
        attachments TEXT NOT NULL DEFAULT '[]',  -- JSON list of attachment ids
        auto_submitted INTEGER NOT NULL DEFAULT 1,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX email_queue_due ON email_queue(status, next_attempt_at);
    CREATE INDEX email_queue_ticket ON email_queue(ticket_id);

    CREATE TABLE bounces (
        id INTEGER PRIMARY KEY,
        ledger_id INTEGER REFERENCES ledger(id),
        queue_id INTEGER REFERENCES email_queue(id),
        ticket_id INTEGER REFERENCES tickets(id),
        contact_id INTEGER REFERENCES contacts(id),
        address TEXT NOT NULL,
        permanent INTEGER NOT NULL DEFAULT 1,
        status_code TEXT,
        diagnostic TEXT,
        resolved INTEGER NOT NULL DEFAULT 0,
        resolved_at TEXT,
        resolved_note TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX bounces_unresolved ON bounces(resolved, created_at);
    CREATE INDEX bounces_contact ON bounces(contact_id);
    CREATE INDEX bounces_address ON bounces(address);

    CREATE TABLE canned_responses (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        subject TEXT NOT NULL DEFAULT '',
        body TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        mailbox_id INTEGER REFERENCES mailboxes(id),
        started_at TEXT NOT NULL,
        finished_at TEXT,
        ok INTEGER,
        counts TEXT NOT NULL DEFAULT '{}',
        error TEXT
    );
    CREATE INDEX runs_mailbox ON runs(mailbox_id, id);
    """,
    # 2: small raw messages inside the database, durable with the commit that records them
    """
    CREATE TABLE raw_messages (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,
        data BLOB NOT NULL
    );
    -- a ledger row's raw bytes: raw_id, else the file raw_path, else not kept (oversized)
    ALTER TABLE ledger ADD COLUMN raw_id INTEGER REFERENCES raw_messages(id);
    """,
    # 3: the installation secret exists from the start (it signs every Message-ID and VERP address)
    """
    INSERT OR IGNORE INTO settings (key, value) VALUES ('installation_secret', lower(hex(randomblob(32))));
    """,
    # 4: the assignment workflow: a course has a code (students name it in subjects); every step of an
    # assignment (each attempt, each feedback) with the mail that carried it; a result when staff close it
    """
    ALTER TABLE courses ADD COLUMN code TEXT;
    UPDATE courses SET code = 'COURSE-' || id WHERE code IS NULL;
    CREATE UNIQUE INDEX courses_code ON courses(code COLLATE NOCASE);
    CREATE INDEX courses_assignment_type ON courses(assignment_type_id);
    CREATE INDEX courses_question_type ON courses(question_type_id);
    CREATE INDEX contacts_role ON contacts(role);

    ALTER TABLE assignments ADD COLUMN result TEXT;
    ALTER TABLE assignments ADD COLUMN closed_at TEXT;
    CREATE INDEX assignments_status ON assignments(status, updated_at);
    CREATE INDEX assignments_course ON assignments(course_id);
    CREATE INDEX assignments_student ON assignments(student_id);
    CREATE INDEX assignments_tutor ON assignments(tutor_id);

    CREATE TABLE assignment_steps (
        id INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL REFERENCES assignments(id),
        kind TEXT NOT NULL CHECK (kind IN ('submitted', 'resubmitted', 'feedback')),
        attempt INTEGER NOT NULL,          -- the attempt submitted, or the one the feedback is on
        log_id INTEGER NOT NULL REFERENCES ticket_logs(id),  -- the mail received: its text, its attachments
        author_id INTEGER REFERENCES contacts(id),
        created_at TEXT NOT NULL
    );
    CREATE INDEX assignment_steps_assignment ON assignment_steps(assignment_id, id);
    """,
    # 5: a received mail a machine wrote (auto-reply, notification) says so, and why; NULL: a person's
    """
    ALTER TABLE ticket_logs ADD COLUMN automatic TEXT;
    """,
    # 6: bounces read per recipient: a report with no readable address is kept too (address NULL), what
    # happened to the address (permanent, temporary, or a delay), the DSN's Action and Remote-MTA, how
    # it was read and matched; indexes for the lookups by queued mail, ticket and report
    """
    CREATE TABLE bounces_v4 (
        id INTEGER PRIMARY KEY,
        ledger_id INTEGER REFERENCES ledger(id),
        queue_id INTEGER REFERENCES email_queue(id),
        ticket_id INTEGER REFERENCES tickets(id),
        contact_id INTEGER REFERENCES contacts(id),
        address TEXT,                      -- the failed address, lower-cased; NULL: none could be read
        original_address TEXT,             -- the address the mail was sent to, when the report names another
        kind TEXT NOT NULL DEFAULT 'permanent' CHECK (kind IN ('permanent', 'temporary', 'delayed')),
        status_code TEXT,                  -- RFC 3463, e.g. 5.1.1
        action TEXT,                       -- the DSN's Action: failed, delayed
        diagnostic TEXT,
        remote_mta TEXT,
        report TEXT NOT NULL DEFAULT '',   -- what the report was read as
        matched_by TEXT CHECK (matched_by IN ('verp', 'message-id', 'tag')),
        resolved INTEGER NOT NULL DEFAULT 0,
        resolved_at TEXT,
        resolved_note TEXT,
        created_at TEXT NOT NULL
    );
    INSERT INTO bounces_v4 (id, ledger_id, queue_id, ticket_id, contact_id, address, kind, status_code, diagnostic,
        resolved, resolved_at, resolved_note, created_at)
        SELECT id, ledger_id, queue_id, ticket_id, contact_id, address,
            CASE WHEN permanent THEN 'permanent' ELSE 'temporary' END, status_code, diagnostic,
            resolved, resolved_at, resolved_note, created_at FROM bounces;
    DROP TABLE bounces;
    ALTER TABLE bounces_v4 RENAME TO bounces;
    CREATE INDEX bounces_unresolved ON bounces(resolved, created_at);
    CREATE INDEX bounces_contact ON bounces(contact_id, resolved);
    CREATE INDEX bounces_address ON bounces(address, resolved);
    CREATE INDEX bounces_queue ON bounces(queue_id);
    CREATE INDEX bounces_ticket ON bounces(ticket_id);
    CREATE INDEX bounces_ledger ON bounces(ledger_id);
    """,
    # 7: an incoming mail's own To (to_email is who it was passed on to); a first run's backlog that is
    # not taken in completely yet (the next runs go on taking it in without notifying)
    """
    ALTER TABLE ticket_logs ADD COLUMN mail_to TEXT NOT NULL DEFAULT '';
    ALTER TABLE mailboxes ADD COLUMN backlog_open INTEGER NOT NULL DEFAULT 0;
    """,
    # 8: the report: when tickets change status (set_status writes it), and the indexes its queries read
    """
    CREATE TABLE ticket_status_changes (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        old_status TEXT,                   -- NULL on the rows this migration backfilled
        new_status TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        estimated INTEGER NOT NULL DEFAULT 0  -- 1: made by this migration; changed_at is the last update
    );
    CREATE INDEX ticket_status_changes_ticket ON ticket_status_changes(ticket_id, new_status);
    CREATE INDEX ticket_status_changes_at ON ticket_status_changes(changed_at, new_status);
    -- tickets resolved before this table existed: their last update is the best time there is
    INSERT INTO ticket_status_changes (ticket_id, old_status, new_status, changed_at, estimated)
        SELECT id, NULL, status, updated_at, 1 FROM tickets WHERE status IN ('resolved', 'closed');
    CREATE INDEX tickets_created ON tickets(created_at, type_id, mailbox_id, kind);
    CREATE INDEX tickets_backlog ON tickets(status, type_id, kind, created_at, mailbox_id)
        WHERE status IN ('new', 'open', 'answered', 'waiting');
    CREATE INDEX ticket_logs_answers ON ticket_logs(ticket_id, receiver_contact_id, created_at)
        WHERE direction = 'out';
    CREATE INDEX ledger_received ON ledger(received_at, mailbox_id, disposition);
    CREATE INDEX bounces_created ON bounces(created_at);
    """,
    # 9: delivery per recipient (a 4xx retries that address only, a 5xx fails it only), and claims that
    # name the process holding them. The CHECK already lists `held` (rate windows) and `suppressed` (an
    # address with an unresolved permanent bounce), so those features need no rebuild of the table.
    """
    CREATE TABLE email_recipients (
        id INTEGER PRIMARY KEY,
        queue_id INTEGER NOT NULL REFERENCES email_queue(id),
        address TEXT NOT NULL COLLATE NOCASE,  -- the envelope recipient (RCPT TO)
        role TEXT NOT NULL DEFAULT 'to' CHECK (role IN ('to', 'cc', 'bcc')),
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'sent', 'failed', 'held', 'suppressed')),
        attempts INTEGER NOT NULL DEFAULT 0,   -- sends tried to this address
        next_attempt_at TEXT NOT NULL,         -- pending: due from then; held: may go from then
        last_code INTEGER,                     -- the server's last reply for this address (250, 451, 550...)
        last_error TEXT,
        reason TEXT,                           -- held or suppressed: why, as a sentence
        bounce_id INTEGER REFERENCES bounces(id),  -- suppressed: the bounce staff must resolve
        sent_at TEXT,
        UNIQUE (queue_id, address)           -- also the index every lookup goes by: a mail's recipients
    );

    -- `sending` rows: who claimed them ("host/pid/start time") and when; a claim of a process that is
    -- gone is taken back at once
    ALTER TABLE email_queue ADD COLUMN claimed_by TEXT;
    ALTER TABLE email_queue ADD COLUMN claimed_at TEXT;

    -- mail not yet sent gets its recipients: To, and each address of Cc (split on commas; a name with
    -- a comma in it leaves a piece without an @, which is dropped)
    INSERT OR IGNORE INTO email_recipients (queue_id, address, role, status, attempts, next_attempt_at, last_error)
    SELECT id, to_email, 'to', CASE status WHEN 'failed' THEN 'failed' ELSE 'pending' END, attempts,
           next_attempt_at, last_error
      FROM email_queue WHERE status != 'sent';
    INSERT OR IGNORE INTO email_recipients (queue_id, address, role, status, attempts, next_attempt_at, last_error)
    WITH RECURSIVE pieces(queue_id, piece, rest) AS (
        SELECT id, '', cc || ',' FROM email_queue WHERE status != 'sent' AND cc != ''
        UNION ALL
        SELECT queue_id, trim(substr(rest, 1, instr(rest, ',') - 1)), substr(rest, instr(rest, ',') + 1)
          FROM pieces WHERE rest != ''
    )
    SELECT q.id,
           CASE WHEN instr(p.piece, '<') > 0 AND instr(p.piece, '>') > instr(p.piece, '<')
                THEN substr(p.piece, instr(p.piece, '<') + 1, instr(p.piece, '>') - instr(p.piece, '<') - 1)
                ELSE p.piece END,
           'cc', CASE q.status WHEN 'failed' THEN 'failed' ELSE 'pending' END, q.attempts, q.next_attempt_at,
           q.last_error
      FROM pieces p JOIN email_queue q ON q.id = p.queue_id WHERE p.piece LIKE '%@%';
    UPDATE email_queue SET status = 'pending' WHERE status = 'sending';
    """,
    # 10: secrets at rest. A mailbox secret column now holds a reference (env:NAME, file:/path,
    # credential:NAME) or a value sealed with the key kept outside the database (sealed:TOKEN); what was
    # stored before is marked plain: here and sealed in Python by the next `init` or `process` (that
    # needs the key, which SQL does not have: store/secrets.py). A mailbox that already used
    # --security none keeps working: it had chosen cleartext before it had to say so. And an attachment
    # may be the whole of a long text body (mail/mimespool.py).
    """
    ALTER TABLE mailboxes ADD COLUMN allow_cleartext INTEGER NOT NULL DEFAULT 0;
    UPDATE mailboxes SET allow_cleartext = 1 WHERE security = 'none';
    UPDATE mailboxes SET password = 'plain:' || password WHERE password IS NOT NULL AND password != '';
    UPDATE mailboxes SET client_secret = 'plain:' || client_secret
        WHERE client_secret IS NOT NULL AND client_secret != '';
    UPDATE mailboxes SET refresh_token = 'plain:' || refresh_token
        WHERE refresh_token IS NOT NULL AND refresh_token != '';
    UPDATE mailboxes SET oauth_state = 'plain:' || oauth_state WHERE oauth_state IS NOT NULL AND oauth_state != '';
    -- the whole of a long text body part (the log's body_text holds its beginning): notices leave it out
    ALTER TABLE attachments ADD COLUMN whole_text INTEGER NOT NULL DEFAULT 0;
    """,
    # 11: who takes part in a ticket (Reply-To, Cc), damaged mail flagged, every mail taken in listed and
    # releasable by staff
    """
    -- everyone who may write into a ticket besides its type's staff; `cc` people get its answers in Cc
    CREATE TABLE ticket_participants (
        id INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        email TEXT NOT NULL,               -- lower-cased
        name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL CHECK (role IN ('customer', 'from', 'cc', 'released')),
        created_at TEXT NOT NULL,
        UNIQUE (ticket_id, email)
    );
    ALTER TABLE ticket_types ADD COLUMN cc_participants INTEGER NOT NULL DEFAULT 1;

    -- what the parser met in a received mail (a JSON list of sentences); NULL when it was sound
    ALTER TABLE ticket_logs ADD COLUMN defects TEXT;
    CREATE INDEX ticket_logs_damaged ON ticket_logs(ticket_id) WHERE defects IS NOT NULL;

    -- the ledger says whom a mail came from and what it was about, and whether staff released it
    ALTER TABLE ledger ADD COLUMN from_email TEXT;
    ALTER TABLE ledger ADD COLUMN subject TEXT;
    ALTER TABLE ledger ADD COLUMN released_at TEXT;
    ALTER TABLE ledger ADD COLUMN released_by TEXT;
    ALTER TABLE ledger ADD COLUMN released_as TEXT;
    CREATE INDEX ledger_disposition ON ledger(disposition, id);

    -- the participants tickets had before this table: their customer, who wrote into them, and whom the
    -- customer's mails copied (never a type's own address or its staff)
    INSERT OR IGNORE INTO ticket_participants (ticket_id, email, name, role, created_at)
        SELECT id, lower(from_email), from_name, 'customer', created_at FROM tickets WHERE from_email != '';
    CREATE TEMP TABLE staff AS
        SELECT lower(j.value) AS email FROM ticket_types t, json_each(t.email_to) j
        UNION SELECT lower(admin_email) FROM ticket_types WHERE admin_email IS NOT NULL
        UNION SELECT lower(email_forward) FROM ticket_types WHERE email_forward IS NOT NULL;
    INSERT OR IGNORE INTO ticket_participants (ticket_id, email, name, role, created_at)
        SELECT ticket_id, lower(from_email), from_name, 'from', min(created_at) FROM ticket_logs
        WHERE direction = 'in' AND from_email != '' AND lower(from_email) NOT IN (SELECT email FROM staff)
        GROUP BY ticket_id, lower(from_email);
    INSERT OR IGNORE INTO ticket_participants (ticket_id, email, name, role, created_at)
        WITH RECURSIVE split(ticket_id, created_at, rest, email) AS (
            SELECT ticket_id, created_at, cc || ',', '' FROM ticket_logs
            WHERE direction = 'in' AND cc != '' AND lower(from_email) NOT IN (SELECT email FROM staff)
            UNION ALL
            SELECT ticket_id, created_at, substr(rest, instr(rest, ',') + 1),
                   lower(trim(substr(rest, 1, instr(rest, ',') - 1)))
            FROM split WHERE rest != ''
        )
        SELECT ticket_id, email, '', 'cc', min(created_at) FROM split
        WHERE email != '' AND email NOT IN (SELECT email FROM staff) GROUP BY ticket_id, email;
    DROP TABLE staff;
    """,
    # 12: mail held back in the queue (outbound/holds.py): a recipient over a rate window is `held` until
    # its next_attempt_at, one whose address bounced for good is `suppressed` (bounce_id) until staff
    # resolve the bounce. The windows count what went to an address (sent_at) and what waits for it; the
    # bounces are looked up by the failed address and by the address the mail was sent to.
    """
    CREATE INDEX email_recipients_address ON email_recipients(address, status, sent_at);
    CREATE INDEX email_recipients_bounce ON email_recipients(bounce_id) WHERE bounce_id IS NOT NULL;
    CREATE INDEX bounces_original ON bounces(original_address, resolved);
    """,
    # 13: the held recipients of an address, by when they may go, read by each rate window.
    """
    CREATE INDEX email_recipients_held ON email_recipients(address, next_attempt_at) WHERE status = 'held';
    """,
]
