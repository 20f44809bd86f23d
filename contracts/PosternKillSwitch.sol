// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// The immediate path: a guardian revokes every permission of a compromised account.
/// `isRevoked(account)` and the `Revoked` event are the effect the bot reads back.
contract PosternKillSwitch {
    mapping(address => bool) public isGuardian;
    mapping(address => bool) public isRevoked;

    event Revoked(address indexed account, address indexed by);

    constructor(address[] memory guardians) {
        for (uint256 i = 0; i < guardians.length; i++) {
            isGuardian[guardians[i]] = true;
        }
    }

    function revokeAll(address account) external {
        require(isGuardian[msg.sender], "PosternKillSwitch: not a guardian");
        require(account != address(0), "PosternKillSwitch: zero address");
        isRevoked[account] = true;
        emit Revoked(account, msg.sender);
    }
}
