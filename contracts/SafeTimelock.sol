// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IPausableTarget {
    function pause() external;
    function paused() external view returns (bool);
}

/// Shape (b), as such teams deploy it: a Safe multisig owns the timelock, and the
/// timelock's emergency `pause()` (callable only by its owner) pauses the target at once.
/// The Safe's owners sign one Safe transaction; anyone may then execute it.
contract SafeTimelock {
    address public immutable owner;
    IPausableTarget public immutable target;

    error OnlyOwner(address caller);

    constructor(address owner_, address target_) {
        owner = owner_;
        target = IPausableTarget(target_);
    }

    function paused() external view returns (bool) {
        return target.paused();
    }

    function pause() external {
        if (msg.sender != owner) revert OnlyOwner(msg.sender);
        require(!target.paused(), "SafeTimelock: target already paused");
        target.pause();
    }
}
