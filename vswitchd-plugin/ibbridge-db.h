/*
 * The ports' run-time address map entries (learned and added hosts) kept in
 * the "ibbridge" database (vswitchd-plugin/ibbridge.ovsschema) on the
 * ovsdb-server that ovs-vswitchd uses, so that they outlive a restart.
 * Private to vswitchd-plugin/.
 */
#ifndef IBBRIDGE_DB_H
#define IBBRIDGE_DB_H 1

/* The netdev class's run() and wait() call these once per main-loop pass,
 * without holding any port's mutex or the port list's. */
void ibbridge_db_run(void);
void ibbridge_db_wait(void);

/* Registers ibbridge/db/show (ovs-appctl). */
void ibbridge_db_unixctl_register(void);

#endif /* ibbridge-db.h */
