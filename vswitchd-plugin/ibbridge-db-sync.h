/*
 * The rows of the ibbridge database's Host table against the ports'
 * address maps: a port's rows go into its map when the port is first seen,
 * then follow the map (ibbridge-db-sync.c).  The connection and when to
 * compare are ibbridge-db.c's.  Private to vswitchd-plugin/.
 */
#ifndef IBBRIDGE_DB_SYNC_H
#define IBBRIDGE_DB_SYNC_H 1

#include <stdbool.h>

struct ds;
struct ovsdb_idl;
struct ovsdb_idl_txn;

/* Brings the Host rows of system 'node' in 'idl' in line with the maps of
 * the ibbridge ports, in 'txn': loads the rows of a port seen for the
 * first time into its map, then inserts, updates and deletes rows; deletes
 * the rows of ports that left.  Takes the port list's and the ports'
 * mutexes. */
void ibbridge_db_sync(struct ovsdb_idl *idl, struct ovsdb_idl_txn *txn,
                      const char *node);

/* Has a port appeared or left, or has its map changed by hand
 * (ibbridge/map/add, del and flush change the netdev's sequence number),
 * since the last ibbridge_db_sync()? */
bool ibbridge_db_sync_needed(void);

/* Appends a line per port known: whether its rows were loaded. */
void ibbridge_db_sync_show(struct ds *);

#endif /* ibbridge-db-sync.h */
