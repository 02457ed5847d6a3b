/*
 * ibbridge version, for tools and the netdev status.
 */
#ifndef IBB_VERSION_H
#define IBB_VERSION_H 1

#define IBB_VERSION PACKAGE_VERSION

#endif /* ibb-version.h */
