/* SPDX-License-Identifier: MIT */
/* The fleet view: `crashbox ls|top s3://BUCKET/PREFIX` lists and groups the
 * crashes a fleet shipped, from the store's listing and each object's
 * metadata (HEAD), never downloading a bundle. */
#pragma once

int fleet_main(int argc, char **argv);
